"""The IR: frozen pydantic models, no unknown fields, one union discriminated by `kind`,
JSON in and out, and the JSON Schema `mtlspec schema` prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from mtlspec.cli import main
from mtlspec.spec import format, from_json, ir, parse, to_json

TREE = """model m {
  input image: float[1, 3, 8, 8]
  backbone convnet { blocks: [layer1] }
  tasks {
    a: head aspp(classes=3, rates=[6, 12])
    b: head linear(out=1, dropout=0.5)
  }
  layout [
    {a, b}
    {a} {b}
  ]
  budget { gmacs <= 1.5; params <= 2M }
}
"""
DAG = """dag d {
  input image: float[1, 3, 32, 32]
  central {
    states: 4
    flow: 2
    stem: conv(out=8, stride=2)
    edge: conv3x3
  }
  tasks {
    a: head conv(out=1)
  }
  topology a { in: 1; edges: 1->2 2->4; out: 4 }
}
"""
GROUPING = """grouping g {
  input image: float[1, 3, 32, 32]
  tasks {
    a: head linear(out=1)
    b: head linear(classes=2)
  }
  network A: torchvision.resnet18(width=0.5) trains {a, b} serves {a, b}
  budget { units <= 0.5 }
}
"""
SPECS = {"model": TREE, "dag": DAG, "grouping": GROUPING}
CLASSES = {"model": ir.TreeSpec, "dag": ir.DagSpec, "grouping": ir.GroupingSpec}


def _all_models() -> list[type[BaseModel]]:
    """Every IR node class (the `Node` base included)."""
    return [obj for obj in vars(ir).values() if isinstance(obj, type)
            and issubclass(obj, BaseModel) and obj.__module__ == ir.__name__]


# ---------------------------------------------------------------------- frozen, no extras
@pytest.mark.parametrize("model", _all_models(), ids=lambda m: m.__name__)
def test_every_node_is_frozen_and_forbids_extras(model: type[BaseModel]):
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_assignment_raises(kind: str):
    spec = parse(SPECS[kind])
    with pytest.raises(ValidationError, match="frozen"):
        spec.name = "other"
    with pytest.raises(ValidationError, match="frozen"):
        spec.input.shape = (1,)
    with pytest.raises(ValidationError, match="frozen"):
        spec.tasks[0].head.name = "conv"
    assert spec == parse(SPECS[kind])


def test_nested_collections_are_immutable():
    spec = parse(TREE)
    assert isinstance(spec.tasks, tuple) and isinstance(spec.layout, tuple)
    assert all(isinstance(row, frozenset) for row in spec.layout)
    assert all(isinstance(group, frozenset) for row in spec.layout for group in row)
    assert isinstance(spec.tasks[0].head.args["rates"], tuple)
    dag = parse(DAG)
    assert isinstance(dag.topologies[0].edges, frozenset)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_extra_fields_are_rejected(kind: str):
    data = json.loads(to_json(parse(SPECS[kind])))
    from_json(json.dumps(data))  # the untouched document is fine
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        from_json(json.dumps({**data, "colour": "blue"}))
    data["input"]["layout"] = "NCHW"
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        from_json(json.dumps(data))
    with pytest.raises(ValidationError):
        ir.Task(name="a", head=ir.Call(name="conv"), weight=2)


# ---------------------------------------------------------------------- discriminated union
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_json_round_trip_picks_the_class_by_kind(kind: str):
    spec = parse(SPECS[kind])
    text = to_json(spec)
    assert json.loads(text)["kind"] == kind
    back = from_json(text)
    assert type(back) is CLASSES[kind]
    assert back == spec
    assert format(back) == SPECS[kind]  # types (int/float, tuples, sets) survive JSON
    assert from_json(text.encode()) == spec


def test_unknown_or_missing_kind_is_rejected():
    data = json.loads(to_json(parse(DAG)))
    with pytest.raises(ValidationError, match="kind"):
        from_json(json.dumps({**data, "kind": "forest"}))
    del data["kind"]
    with pytest.raises(ValidationError, match="kind"):
        from_json(json.dumps(data))


def test_kind_decides_not_the_shape():
    """A grouping document with `kind: dag` is not silently read as a grouping."""
    data = json.loads(to_json(parse(GROUPING)))
    data["kind"] = "dag"
    with pytest.raises(ValidationError):
        from_json(json.dumps(data))


def test_block_selection_is_discriminated_too():
    data = json.loads(to_json(parse(TREE)))
    assert data["backbone"]["blocks"] == {"kind": "after", "after": ["layer1"]}
    data["backbone"]["blocks"] = {"kind": "auto", "count": 2}
    assert from_json(json.dumps(data)).backbone.blocks == ir.AutoBlocks(count=2)
    data["backbone"]["blocks"] = {"kind": "auto", "after": ["layer1"]}
    with pytest.raises(ValidationError):
        from_json(json.dumps(data))


def test_defaults_fill_in_from_minimal_json():
    spec = from_json(json.dumps({
        "kind": "model", "name": "m", "input": {"name": "x", "shape": [1, 3]},
        "backbone": {"ref": "convnet"},
        "tasks": [{"name": "a", "head": {"name": "linear", "args": {"out": 1}}}],
        "layout": [[["a"]]],
    }))
    assert spec.input.dtype == "float"
    assert spec.backbone.blocks == ir.AutoBlocks() and spec.backbone.allow_import is False
    assert spec.budget is None and spec.init is None
    assert parse(format(spec)) == spec


def test_equal_architectures_compare_equal():
    """No source positions in the IR: layout and whitespace do not change it."""
    assert parse(TREE) == parse(TREE.replace("  ", "\t").replace("{a, b}", "{ b,a }"))
    assert parse(TREE) != parse(TREE.replace("params <= 2M", "params <= 3M"))


def test_json_is_deterministic_for_equal_irs():
    # Set iteration order depends on string hashing, which changes with PYTHONHASHSEED:
    # the JSON must not.
    script = (
        "import sys; from mtlspec.spec import load, to_json; "
        "sys.stdout.write(''.join(to_json(load(p).spec) for p in sys.argv[1:]))"
    )
    specs = [str(p) for p in sorted(Path(__file__).resolve().parents[2].glob("specs/*.mtl"))]
    outputs = {
        subprocess.run([sys.executable, "-c", script, *specs], capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    spec = parse(DAG)
    data = json.loads(to_json(spec))
    edges = data["topologies"][0]["edges"]
    assert edges == sorted(edges)


# ---------------------------------------------------------------------- schema
def _schema_from_cli() -> dict:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_schema_command_prints_the_three_kinds():
    schema = _schema_from_cli()
    assert schema == json.loads(json.dumps(ir.json_schema()))
    assert schema["discriminator"]["propertyName"] == "kind"
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {"model", "dag", "grouping"}
    for kind, target in mapping.items():
        definition = schema["$defs"][target.rsplit("/", 1)[-1]]
        assert definition["properties"]["kind"]["const"] == kind
        assert definition["additionalProperties"] is False
    assert len(schema["oneOf"]) == 3


def test_schema_describes_every_node():
    defs = _schema_from_cli()["$defs"]
    for model in _all_models():
        if model is ir.Node:
            continue
        assert model.__name__ in defs
        assert defs[model.__name__].get("additionalProperties") is False


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_json_validates_against_the_printed_schema(kind: str):
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed here (not a dependency of mtlspec)")
    schema = _schema_from_cli()
    validator = jsonschema.validators.validator_for(schema)(schema)
    document = json.loads(to_json(parse(SPECS[kind])))
    assert list(validator.iter_errors(document)) == []
    assert list(validator.iter_errors({**document, "colour": "blue"}))

"""The bad and extreme input files of tests/test_corpus.py, written into a folder at test time
(some are megabytes of brackets; none is worth storing): specs, grouping tables, 2-task
results, scores, CoNAL architectures, baselines, plans (manifests and results) and
checkpoints. Each file is named after what is wrong with it.

    python tests/corpus/make_corpus.py OUT_DIR   # to look at them
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TREE = """model m {{
  input image: {input}
  backbone {backbone} {{ blocks: auto({blocks}) }}
  tasks {{
    {task}: head {head}
    b: head linear(classes=3)
  }}
  layout [
{layout}
  ]{extra}
}}
"""


def tree(head="linear(classes=2)", backbone="convnet", task="a", input="float[1, 3, 16, 16]",
         blocks=2, extra="") -> str:
    rows = [f"    {{{task}, b}}", f"    {{{task}}} {{b}}"][:blocks] if blocks <= 2 else \
        [f"    {{{task}, b}}"] * blocks
    return TREE.format(input=input, backbone=backbone, blocks=blocks, task=task, head=head,
                       layout="\n".join(rows), extra=extra)


def dag(states=3, flow=2, stem="conv(out=8, stride=1)", edge="conv3x3", topo="in: 1; out: 3",
        input="float[1, 3, 16, 16]") -> str:
    return (f"dag d {{\n  input image: {input}\n  central {{ states: {states}; flow: {flow}; "
            f"stem: {stem}; edge: {edge} }}\n  tasks {{ a: head linear(classes=2) }}\n"
            f"  topology a {{ {topo} }}\n}}\n")


def grouping(width="1.0", backbone="torchvision.resnet18", name="A") -> str:
    return (f"grouping g {{\n  input image: float[1, 3, 32, 32]\n  tasks {{ a: head linear("
            f"classes=2) }}\n  network {name}: {backbone}(width={width}) trains {{a}} serves "
            "{a}\n}\n")


SPECS: dict[str, str | bytes] = {
    "dropout_2": tree("linear(classes=2, dropout=2.0)"),
    "dropout_negative": tree("mlp(classes=2, dropout=-0.5)"),
    "aspp_rate_0": tree("aspp(classes=2, rates=[0])"),
    "aspp_rate_negative": tree("aspp(classes=2, rates=[-3, 6])"),
    "aspp_rate_huge": tree("aspp(classes=2, rates=[100000])"),
    "aspp_channels_0": tree("aspp(classes=2, channels=0)"),
    "mlp_hidden_negative": tree("mlp(classes=2, hidden=[-4])"),
    "mlp_hidden_many": tree("mlp(classes=2, hidden=[" + ", ".join(["2"] * 100) + "])"),
    "mlp_hidden_empty": tree("mlp(classes=2, hidden=[])"),
    "conv_hidden_huge": tree("conv(out=1, hidden=10000000)"),
    "classes_30_digits": tree("linear(classes=123456789012345678901234567890)"),
    "classes_1_5G": tree("linear(classes=1.5G)"),
    "classes_0": tree("linear(classes=0)"),
    "classes_float": tree("linear(classes=2.5)"),
    "classes_and_out": tree("linear(classes=2, out=1)"),
    "head_unknown": tree("lineer(classes=2)"),
    "head_bad_arg": tree("linear(classes=2, dropuot=0.1)"),
    "head_string_arg": tree('linear(classes="two")'),
    "task_state_dict": tree(task="state_dict"),
    "task_training": tree(task="training"),
    "task_dunder_class": tree(task="__class__"),
    "task_to": tree(task="to"),
    "task_private_modules": tree(task="_modules"),
    "convnet_depth_0": tree(backbone="convnet(depth=0)"),
    "convnet_depth_100000": tree(backbone="convnet(depth=100000)"),
    "convnet_width_1e7": tree(backbone="convnet(width=10000000)"),
    "convnet_width_huge_deep": tree(backbone="convnet(width=65536, depth=256)", blocks=1),
    "convnet_in_channels_wrong": tree(backbone="convnet(in_channels=5)"),
    "convnet_unknown_arg": tree(backbone="convnet(depht=3)"),
    "resnet_stages_100": tree(backbone="resnet(stages=100)"),
    "backbone_unknown": tree(backbone="resnet19"),
    "torchvision_bad_kwarg": tree(backbone="torchvision.resnet18(num_clases=3)"),
    "torchvision_weights": tree(backbone='torchvision.resnet18(weights="IMAGENET1K_V1")'),
    "torchvision_too_small": tree(backbone="torchvision.resnet18", input="float[1, 3, 2, 2]"),
    "input_100000_square": tree(input="float[1, 3, 100000, 100000]"),
    "input_zero_dim": tree(input="float[1, 3, 0, 16]"),
    "input_huge_dim": tree(input="float[1, 3, 99999999999999999999, 16]"),
    "input_3d": tree(input="float[1, 3, 16]"),
    "input_dtype_unknown": tree(input="double[1, 3, 16, 16]"),
    "blocks_0": tree(blocks=0),
    "blocks_too_many": tree(backbone="convnet(depth=2)", blocks=9),
    "layout_wrong_rows": tree(blocks=2).replace("auto(2)", "auto(3)"),
    "budget_zero": tree(extra="\n  budget { gmacs <= 0 }"),
    "budget_latency_runtime": tree(extra="\n  budget { latency_ms <= 5 @ tensorrt }"),
    "user_code_without_flag": tree(backbone='"os.path:join"'),
    "dag_stride_1000": dag(stem="conv(out=8, stride=1000)"),
    "dag_kernel_0": dag(stem="conv(out=8, kernel=0)"),
    "dag_out_huge": dag(stem="conv(out=100000000)"),
    "dag_states_0": dag(states=0, topo="in: 1; out: 1"),
    "dag_states_huge": dag(states=100000, flow=1, topo="in: 1; out: 1"),
    "dag_flow_0": dag(flow=0),
    "dag_edge_backwards": dag(topo="in: 1; edges: 3->1; out: 3"),
    "dag_unreachable": dag(topo="in: 1; out: 3"),
    "dag_edge_unknown": dag(edge="conv5x5"),
    "dag_input_2d": dag(input="float[1, 16]"),
    "grouping_width_1e5": grouping(width="1e5"),
    "grouping_width_0": grouping(width="0"),
    "grouping_reserved_network": grouping(name="state_dict"),
    "grouping_convnet_width_arg": grouping(backbone="convnet", width="2.0"),
    "empty": "",
    "only_comment": "# nothing here\n",
    "not_utf8": b"model m {\n  input image: float[1, 3, 8, 8] \xff\xfe\n}\n",
    "binary": bytes(range(256)) * 8,
    "nul_bytes": "model m {\x00\x00}\n",
    "nested_brackets": tree("linear(classes=2, x=" + "[" * 5000 + "]" * 5000 + ")"),
    "number_5000_digits": tree("linear(classes=" + "9" * 5000 + ")"),
    "long_line": "model " + "m" * 200_000 + " {}\n",
    "unclosed": "model m {\n  input image: float[1, 3, 8, 8]\n",
    "unicode_name": tree(task="²"),
}

GROUPING_TABLES: dict[str, str | bytes] = {
    "no_cost.csv": "a,b\n0.1,0.2\n",
    "ragged.csv": "cost,a,b\n1,0.1\n1,0.1,0.2,0.3\n",
    "cost_inf.csv": "cost,a\ninf,0.1\n",
    "cost_nan.csv": "cost,a\nnan,0.1\n",
    "value_5000_digits.csv": "cost,a\n1," + "9" * 5000 + "\n",
    "huge_field.csv": "cost,a\n1,\"" + "x" * 200_000 + "\"\n",
    "empty.csv": "",
    "not_utf8.csv": b"cost,a\n1,0.\xff\n",
    "task_names_weird.csv": "cost,a b,\xb2\n1,0.1,0.2\n",
    "duplicate_tasks.csv": "cost,a,a\n1,0.1,0.2\n",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "number_5000_digits.json": '{"networks": [{"cost": ' + "9" * 5000 + ', "loss": {"a": 1}}]}',
    "nan.json": '{"networks": [{"cost": NaN, "loss": {"a": 1}}]}',
    "networks_not_list.json": '{"networks": {"cost": 1}}',
    "loss_not_object.json": '{"networks": [{"cost": 1, "loss": [1, 2]}]}',
    "superscript_key.json": '{"networks": [{"cost": 1, "loss": {"\\u00b2": 1}}]}',
    "tasks_not_list.json": '{"networks": [{"cost": 1, "loss": {"a": 1}}], "tasks": "a"}',
    "invalid.json": '{"networks": [',
    "array.json": "[1, 2, 3]",
    "standley_wrong_columns.txt": "0.1\t0.2\n0.3\t0.4\n",
    "standley_text.txt": "a\tb\tc\td\te\n",
}

PAIRS: dict[str, str | bytes] = {
    "directions_list.json": '{"pairs": [], "directions": [1, 2]}',
    "directions_nested_list.json": '{"pairs": [], "directions": {"a": [1]}}',
    "branch_huge.json": json.dumps({"pairs": [{"tasks": ["a", "b"], "branch": 10**30,
                                               "metrics": {"a": {"acc": 1}, "b": {"acc": 1}}}]}),
    "branch_negative.json": json.dumps({"pairs": [{"tasks": ["a", "b"], "branch": -5,
                                                   "metrics": {"a": {"acc": 1},
                                                               "b": {"acc": 1}}}]}),
    "metric_nan.json": '{"pairs": [{"tasks": ["a", "b"], "branch": 0, "metrics": '
                       '{"a": {"acc": NaN}, "b": {"acc": 1}}}]}',
    "tasks_three.json": json.dumps({"pairs": [{"tasks": ["a", "b", "c"], "branch": 0,
                                               "metrics": {}}]}),
    "deep.json": "{\"pairs\": " + "[" * 50_000 + "]" * 50_000 + "}",
    "pairs_missing.json": "{}",
    "not_utf8.csv": b"task_a,task_b,branch\n\xff\xfe,b,0\n",
    "empty.csv": "",
    "header_only.csv": "task_a,task_b,branch,metric_a,metric_b\n",
    "branch_huge.csv": "task_a,task_b,branch,a,b\na,b,99999999999999999999999,1,1\n",
    "value_inf.csv": "task_a,task_b,branch,a,b\na,b,0,inf,1\n",
    "garbage.csv": "\x00\x01\x02,\x03\n" * 10,
    "huge_field.csv": "a,b\n\"" + "y" * 200_000 + "\",1\n",
}

SCORES = {
    "no_header.csv": "1,2\n",
    "score_nan.csv": "layout,score\n0,nan\n",
    "layout_huge.csv": "layout,score\n" + "9" * 400 + ",1\n",
    "layout_negative.csv": "layout,score\n-1,1\n",
    "not_utf8.csv": b"layout,score\n0,\xff\n",
}

CONAL = {
    "array.json": "[1, 2]",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "superscript_key.json": '{"\\u00b2": 3}',
    "negative_stage.json": '{"0": -3, "1": 2}',
    "huge_stage.json": '{"0": 99999999999999999999999999, "1": 2}',
    "float_stage.json": '{"0": 2.5, "1": 2}',
    "not_utf8.json": b'{"0": \xff}',
    "config.yml": "lr: 0.1\n",
    "empty.json": "",
}

BASELINES = {
    "array.json": "[1, 2]",
    "nan.json": '{"left": NaN}',
    "string_metric.json": '{"left": "high"}',
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "not_utf8.json": b'{"left": \xff}',
    "number_5000_digits.json": '{"left": ' + "1" * 5000 + "}",
}

ENTRY = {"id": "left", "spec": "left.mtl", "tasks": ["left"], "gmacs": 0.001, "params": 100}
MANIFEST = {"version": 1, "kind": "grouping", "base": "b.mtl", "tasks": ["left"],
            "entries": [ENTRY]}
LEFT_SPEC = """model left {
  input image: float[1, 1, 8, 16]
  backbone convnet(depth=2, in_channels=1) { blocks: auto(1) }
  tasks { left: head linear(classes=10) }
  layout [ {left} ]
}
"""


def _manifest(**entry) -> str:
    return json.dumps({**MANIFEST, "entries": [{**ENTRY, **entry}]})


PLANS: dict[str, dict[str, str | bytes]] = {
    "id_300_chars": {"manifest.json": _manifest(id="x" * 300)},
    "id_slash": {"manifest.json": _manifest(id="../../etc/passwd")},
    "id_empty": {"manifest.json": _manifest(id="")},
    "gmacs_nan": {"manifest.json": _manifest().replace("0.001", "NaN")},
    "width_negative": {"manifest.json": _manifest(width=-1)},
    "version_9": {"manifest.json": json.dumps({**MANIFEST, "version": 9})},
    "deep": {"manifest.json": "[" * 100_000 + "]" * 100_000},
    "not_utf8": {"manifest.json": b'{"version": 1, \xff}'},
    "empty_manifest": {"manifest.json": ""},
    "no_manifest": {"README": "nothing"},
    "result_val_null": {"manifest.json": _manifest(), "left.mtl": LEFT_SPEC,
                        "results/left.json": '{"val": null, "directions": {"left": "max"}}'},
    "result_val_string": {"manifest.json": _manifest(), "left.mtl": LEFT_SPEC,
                          "results/left.json": '{"val": "high", "directions": {"left": "max"}}'},
    "result_val_nan": {"manifest.json": _manifest(), "left.mtl": LEFT_SPEC,
                       "results/left.json": '{"val": {"left": NaN}, "test": {"left": 1}, '
                                            '"directions": {"left": "max"}}'},
    "result_direction_bad": {"manifest.json": _manifest(), "left.mtl": LEFT_SPEC,
                             "results/left.json": '{"val": {"left": 1}, "directions": '
                                                  '{"left": "up"}}'},
    "result_garbage": {"manifest.json": _manifest(), "left.mtl": LEFT_SPEC,
                       "results/left.json": b"\x00\xff garbage"},
    "result_missing": {"manifest.json": _manifest(), "left.mtl": LEFT_SPEC},
    "spec_missing": {"manifest.json": _manifest()},
}


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _checkpoints(folder: Path) -> None:
    import torch

    for name, state in {"missing_keys": {"version": 1},
                        "wrong_types": {"version": 1, "config": [], "model": 1, "optimizer": 1,
                                        "weighting": 1, "rng": 1, "run": 1},
                        "version_9": {"version": 9}, "not_a_dict": [1, 2]}.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        torch.save(state, folder / name / "last.pt")
    _write(folder / "garbage" / "last.pt", b"\x80\x04garbage")
    _write(folder / "empty" / "last.pt", b"")


def write_corpus(root: Path) -> Path:
    """Write every corpus file under `root` (emptied first); returns `root`."""
    shutil.rmtree(root, ignore_errors=True)
    for name, text in SPECS.items():
        _write(root / "specs" / f"{name}.mtl", text)
    for folder, files in (("tables", GROUPING_TABLES), ("pairs", PAIRS), ("scores", SCORES),
                          ("conal", CONAL), ("baselines", BASELINES)):
        for name, text in files.items():
            _write(root / folder / name, text)
    for plan, files in PLANS.items():
        for name, text in files.items():
            _write(root / "plans" / plan / name, text)
    _checkpoints(root / "checkpoints")
    return root


if __name__ == "__main__":
    import sys

    write_corpus(Path(sys.argv[1]))

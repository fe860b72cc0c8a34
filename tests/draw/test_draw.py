"""`mtlspec draw` and `mtlspec.draw`: PNG/SVG/DOT for each spec kind, DOT lists every node and
edge, atomic writes, bad extensions."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlspec.cli import main
from mtlspec.draw import graph, to_dot
from mtlspec.spec import load

ROOT = Path(__file__).resolve().parents[2]
SPECS = {"model": ROOT / "specs" / "conal_multidigits.mtl",
         "dag": ROOT / "specs" / "nyuv2_dag.mtl",
         "grouping": ROOT / "specs" / "taskonomy_grouping_2_5.mtl"}
MAGIC = {"png": b"\x89PNG", "svg": b"<svg", "dot": b"digraph"}


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("ext", list(MAGIC))
def test_draw_writes_each_format_for_each_kind(tmp_path: Path, kind: str, ext: str):
    out = tmp_path / f"d.{ext}"
    result = run("draw", SPECS[kind], "-o", out)
    assert result.exit_code == 0, result.output
    assert MAGIC[ext] in out.read_bytes()[:400]
    assert not [p for p in tmp_path.iterdir() if p.name != out.name]  # no temp file left


def _dot_lines(kind: str) -> tuple[str, object]:
    spec = load(str(SPECS[kind])).spec
    return to_dot(spec), spec


def test_dot_of_a_tree_lists_each_block_node_and_edge():
    dot, spec = _dot_lines("model")
    assert '"b1:left,right,parity" [label="{left, right, parity}"' in dot
    assert '"b2:left,right" -> "b3:left,right";' in dot
    assert '"b1:left,right,parity" -> "b2:parity";' in dot
    assert '"b3:left,right" -> "b4:left";' in dot and '"b3:left,right" -> "b4:right";' in dot
    assert '"input" -> "b1:left,right,parity";' in dot
    for task in ("left", "right", "parity"):
        assert f'"b5:{task}" -> "task:{task}";' in dot
    g = graph(spec)
    # 1 input + 1 + 2 + 2 + 3 + 3 block nodes + 3 leaves; a tree: one edge into each node
    assert g.number_of_nodes() == 15 and g.number_of_edges() == 14
    assert dot.count(" -> ") == g.number_of_edges()


def test_dot_of_a_dag_lists_every_task_edge_read_in_and_read_out():
    dot, spec = _dot_lines("dag")
    for state in range(1, spec.central.states + 1):
        assert f'"s{state}" [label="{state}", shape=circle];' in dot
    edges = [line for line in dot.splitlines() if " -> " in line]
    for topo in spec.topologies:
        for i, j in topo.edges:
            assert any(f'"s{i}" -> "s{j}"' in e and f'label="{topo.task}"' in e for e in edges)
        for s in topo.read_in:
            assert sum(f'"input" -> "s{s}"' in e and "read-in" in e for e in edges) >= 1
        for s in topo.read_out:
            assert f'"s{s}" -> "task:{topo.task}"' in dot
    expected = sum(len(t.edges) + len(t.read_in) + len(t.read_out) for t in spec.topologies)
    assert len(edges) == expected


def test_dot_of_a_grouping_links_networks_to_served_tasks():
    dot, spec = _dot_lines("grouping")
    for net in spec.networks:
        assert f'"net:{net.name}" [label="{net.name}: ' in dot
        for task in net.serves:
            line = next(e for e in dot.splitlines() if f'"net:{net.name}" -> "task:{task}"' in e)
            assert "dashed" not in line
        for task in net.trains - net.serves:
            line = next(e for e in dot.splitlines() if f'"net:{net.name}" -> "task:{task}"' in e)
            assert "dashed" in line
    assert '"net:C" [label="C: torchvision.resnet18 ×0.5"' in dot


def test_a_failed_render_leaves_the_earlier_file(tmp_path: Path, monkeypatch):
    out = tmp_path / "tree.svg"
    out.write_text("earlier")
    import matplotlib.figure

    def broken(self, fname, **kwargs):
        fname.write(b"<svg half")
        raise RuntimeError("renderer died")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        from mtlspec.draw import draw

        draw(load(str(SPECS["model"])).spec, out)
    assert out.read_text() == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["tree.svg"]


def test_an_invalid_spec_exits_2_and_leaves_the_earlier_file(tmp_path: Path):
    bad = tmp_path / "bad.mtl"
    bad.write_text("model x {\n")
    out = tmp_path / "x.png"
    out.write_bytes(b"earlier")
    result = run("draw", bad, "-o", out)
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    assert out.read_bytes() == b"earlier"


@pytest.mark.parametrize("name", ["tree.pdf", "tree", "tree.PNGX"])
def test_an_unknown_extension_exits_2(tmp_path: Path, name: str):
    result = run("draw", SPECS["model"], "-o", tmp_path / name)
    assert result.exit_code == 2
    assert "use one of .png, .svg, .dot" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())

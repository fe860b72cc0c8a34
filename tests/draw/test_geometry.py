"""What `mtlspec draw` renders is readable: no two texts overlap, no arrow crosses a text box,
nothing is cut off. Checked on the renderer's own extents (matplotlib window extents, in
pixels) for every shipped spec and for a 10-task tree with long, wrapped labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.patches import FancyArrowPatch
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Bbox

from mtlspec.draw import figure, group_label
from mtlspec.search.treemtl import layouts
from mtlspec.spec import load, parse, validate

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "specs").glob("*.mtl"))
TASKS = ["segment", "depth", "normal", "keypoint", "edge", "curvature", "reshading",
         "occlusion", "autoencoder", "principal_curvature"]


def ten_task_tree():
    heads = "\n".join(f"    {t}: head linear(out=1)" for t in TASKS)
    base = validate(parse(f"model ten {{\n  input image: float[1, 3, 32, 32]\n"
                          f"  backbone convnet {{ blocks: auto(4) }}\n  tasks {{\n{heads}\n  }}\n"
                          f"  layout [\n" + f"    {{{', '.join(TASKS)}}}\n" * 4 + "  ]\n}\n"))
    # a layout that splits the tasks unevenly at several depths
    layout = layouts.unrank(len(TASKS), 4, layouts.count(len(TASKS), 4) // 3)
    return validate(layouts.to_spec(base, layout))


def _shrunk(box: Bbox, by: float = 1.0) -> Bbox:
    return Bbox.from_extents(box.x0 + by, box.y0 + by, box.x1 - by, box.y1 - by)


def _segments(path: MplPath):
    """The straight segments of a polyline path (a closed sub-path closes to its start)."""
    start = last = None
    for point, code in path.iter_segments(simplify=False, curves=False):
        point = tuple(point[-2:])
        if code == MplPath.MOVETO:
            start = last = point
        elif code == MplPath.CLOSEPOLY:
            yield last, start
            last = start
        else:
            yield last, point
            last = point


def _crosses(a, b, box: Bbox) -> bool:
    """Whether segment a-b has a point inside `box` (Liang-Barsky clipping)."""
    lo, hi = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - box.x0), (dx, box.x1 - a[0]), (-dy, a[1] - box.y0),
                 (dy, box.y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
    return lo <= hi


def _rendered(spec):
    fig = figure(spec)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = []
    for text in ax.texts:
        drawn = text.get_bbox_patch() or text  # a node's box, or a bare text's own extent
        texts.append((text.get_text(), drawn.get_window_extent(renderer)))
    if ax.get_legend() is not None:
        texts.append(("<legend>", ax.get_legend().get_window_extent(renderer)))
    arrows = [p.get_transform().transform_path(p.get_path())
              for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return fig, texts, arrows


def _check(spec) -> tuple[int, int]:
    fig, texts, arrows = _rendered(spec)
    for i, (name, box) in enumerate(texts):
        assert (box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= fig.bbox.x1 + 0.5
                and box.y1 <= fig.bbox.y1 + 0.5), f"{name!r} is cut off"
        for other, second in texts[i + 1:]:
            assert not _shrunk(box, 0.5).overlaps(_shrunk(second, 0.5)), \
                f"{name!r} overlaps {other!r}"
    for k, path in enumerate(arrows):
        for a, b in _segments(path):
            for name, box in texts:
                assert not _crosses(a, b, _shrunk(box)), f"arrow {k} crosses {name!r}"
    return len(texts), len(arrows)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_specs_draw_without_overlaps(path: Path):
    spec = load(str(path)).spec
    texts, arrows = _check(spec)
    assert texts > len(spec.tasks) and arrows >= len(spec.tasks)


def test_a_ten_task_tree_wraps_its_labels_and_draws_without_overlaps():
    spec = ten_task_tree()
    _, texts, _ = _rendered(spec)
    groups = [t for t, _ in texts if t.startswith("{")]
    assert max(g.count("\n") for g in groups) >= 3  # long task sets wrap, task by task
    for label in groups:
        assert all(len(line) <= 24 or "," not in line for line in label.splitlines())
        assert label.count("\n") < label.count(",") + 1  # never more lines than tasks
    assert group_label(TASKS).splitlines()[0] == "{segment, depth, normal,"
    _check(spec)


def test_the_checks_catch_an_overlap(monkeypatch):
    # the same drawing with every box at one spot must fail: the test can fail
    from mtlspec.draw import canvas

    real = canvas.layout

    def squashed(g, sizes):
        plan = real(g, sizes)
        first = next(iter(plan.boxes.values()))
        plan.boxes = {n: type(b)(first.x, first.y, b.w, b.h) for n, b in plan.boxes.items()}
        return plan

    monkeypatch.setattr(canvas, "layout", squashed)
    with pytest.raises(AssertionError, match=r"overlaps|crosses"):
        _check(load(str(ROOT / "specs" / "nyuv2_resnet34.mtl")).spec)

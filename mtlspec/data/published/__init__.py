"""The seed papers' published result tables, shipped with mtlspec and named for the CLI.

`standley:setting1` … `setting4` (with `-test` and `-esa` variants) are Standley et al.'s
per-network validation losses for task grouping; `treemtl:nyuv2-resnet34` and friends are
TreeMTL's two-task results. `mtlspec group --table standley:setting1` and `mtlspec recommend
--pairs treemtl:nyuv2-resnet34` read them from the installed package, from any directory; a
path works as before. `mtlspec datasets` lists the names. Each folder's README names the
source repository, commit, license and columns. Torch-free.

    >>> table = named("standley:setting1")
    >>> table.tasks
    ('segment', 'depth', 'normal', 'keypoint', 'edge')
    >>> table.path.name
    'results.txt'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from mtlspec.errors import MtlspecError

HERE = Path(__file__).resolve().parent
TASKONOMY = ("segment", "depth", "normal", "keypoint", "edge")
TASK_SET_2 = ("autoencoder", "normal", "occlusion", "reshading", "curvature")
NYUV2 = ("segment", "normal", "depth")            # TreeMTL's task ids 0, 1, 2
TREEMTL_TASKONOMY = ("segment", "normal", "depth", "keypoint", "edge")


@dataclass(frozen=True)
class PublishedTable:
    """One shipped table: its name, what kind of input it is, its file and task names."""

    name: str
    kind: str              # "grouping" (Standley candidate table) or "pairs" (TreeMTL 2-task)
    file: str              # relative to this package
    tasks: tuple[str, ...]
    description: str

    @property
    def path(self) -> Path:
        return HERE / self.file


def _standley() -> list[PublishedTable]:
    settings = [
        ("setting1", "results", TASKONOMY, "Taskonomy, Xception17 encoders (Setting 1)", "_20"),
        ("setting2", "results_large", TASKONOMY, "Taskonomy, full Xception (Setting 2)", "_20"),
        ("setting3", "results_small_data", TASKONOMY, "Taskonomy, 5% of the data (Setting 3)",
         "_at4"),
        ("setting4", "results_alt", TASK_SET_2, "Taskonomy task set 2 (Setting 4)", "_20"),
    ]
    tables = []
    for name, stem, tasks, what, early in settings:
        tables += [
            PublishedTable(f"standley:{name}", "grouping", f"standley/{stem}.txt", tasks,
                           f"{what}: validation losses"),
            PublishedTable(f"standley:{name}-test", "grouping", f"standley/{stem}_test.txt"
                           if name != "setting3" else "standley/results_small_data_test.txt",
                           tasks, f"{what}: the same networks on the test split"),
            PublishedTable(f"standley:{name}-esa", "grouping", f"standley/{stem}{early}.txt",
                           tasks, f"{what}: early-stopped values (--method esa --early)"),
        ]
    tables.append(PublishedTable("standley:mean", "grouping", "standley/results_mean.txt",
                                 TASKONOMY, "Taskonomy: results_mean.txt as published"))
    return tables


def _treemtl() -> list[PublishedTable]:
    files = {
        "nyuv2-resnet34": ("NYUv2_2task_metrics_resnet_1129_val_acc.csv", NYUV2),
        "nyuv2-mobilenetv2": ("NYUv2_2task_metrics_mobilenet_0227_val_acc.csv", NYUV2),
        "taskonomy-resnet34": ("Taskonomy_2task_metrics_resnet_0123_val_acc.csv",
                               TREEMTL_TASKONOMY),
        "taskonomy-mobilenetv2": ("Taskonomy_2task_metrics_mobilenet_0203_val_acc.csv",
                                  TREEMTL_TASKONOMY),
    }
    return [PublishedTable(f"treemtl:{name}", "pairs", f"treemtl/{file}", tasks,
                           f"TreeMTL 2-task results, {name.replace('-', ', ')}, B = 5 blocks")
            for name, (file, tasks) in files.items()]


TABLES: dict[str, PublishedTable] = {t.name: t for t in (*_standley(), *_treemtl())}
SOURCES = ("standley", "treemtl")


def is_name(ref: str | Path) -> bool:
    """Whether `ref` is written as a table name (`source:name`) rather than a path."""
    return isinstance(ref, str) and ref.split(":", 1)[0] in SOURCES and ":" in ref


def named(name: str, *, kind: str | None = None) -> PublishedTable:
    """The shipped table called `name`.

    Args:
        name: `standley:...` or `treemtl:...` (see `TABLES` or `mtlspec datasets`).
        kind: "grouping" or "pairs" to refuse a table of the other kind.

    Raises:
        MtlspecError: an unknown name (listing the known ones of that kind) or the wrong kind.
    """
    known = [n for n, t in TABLES.items() if kind is None or t.kind == kind]
    table = TABLES.get(name)
    if table is None or (kind is not None and table.kind != kind):
        close = difflib.get_close_matches(name, known, n=1)
        what = (f"`{name}` is a {table.kind} table, not a {kind} table" if table
                else f"unknown published table `{name}`")
        guess = f"did you mean `{close[0]}`? " if close else ""
        raise MtlspecError(f"{what}\nhint: {guess}known: {', '.join(known)} "
                           "(`mtlspec datasets` lists them)")
    return table


def locate(ref: str | Path, *, kind: str) -> tuple[Path, tuple[str, ...] | None]:
    """A path or a table name → (file, its task names or None for a user's file)."""
    if is_name(ref):
        table = named(str(ref), kind=kind)
        return table.path, table.tasks
    return Path(ref), None

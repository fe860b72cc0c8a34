"""Block selection: all detected blocks, K FLOPs-balanced groups of them, or cuts named by the user.

Policy only: these functions return new `Partition`s; `split` builds the modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from mtlspec.backbone.errors import BackboneError
from mtlspec.backbone.partition import Partition


def regroup(part: Partition, cuts: Sequence[str]) -> Partition:
    """Keep only some of a partition's block boundaries (consecutive blocks merge).

    Args:
        part: a partition.
        cuts: the boundaries to keep, a subset of `part.cuts` (any order); the last block's cut
            (the feature map) is always kept.

    Returns:
        The coarser partition (same `raw_cuts`).

    Raises:
        ValueError: a cut is not one of `part.cuts`.

    Example:
        >>> regroup(Partition({"a": 0, "b": 1, "c": 2}, ("a", "b", "c"), ()), ["a"]).cuts
        ('a', 'c')
    """
    position = {c: i for i, c in enumerate(part.cuts)}
    unknown = [c for c in cuts if c not in position]
    if unknown:
        raise ValueError(f"not block boundaries: {unknown}")
    keep = sorted({position[c] for c in cuts} | {len(part.cuts) - 1})
    group_of, r = [], 0
    for b in range(len(part.cuts)):
        while keep[r] < b:
            r += 1
        group_of.append(r)
    return Partition({v: group_of[b] for v, b in part.assignment.items()},
                     tuple(part.cuts[i] for i in keep), part.raw_cuts)


def balanced_groups(costs: Sequence[int], k: int) -> list[int]:
    """Split a sequence into k contiguous non-empty groups whose largest sum is smallest.

    Among the groupings with that smallest maximum, the one with the smallest sum of squared
    group sums is chosen (the most even), so the answer is unique up to exact ties, which are
    broken towards earlier cuts. Two dynamic programmes, O(k·n²) each.

    Args:
        costs: non-negative cost of each item (FLOPs of each block).
        k: number of groups, 1 ≤ k ≤ len(costs).

    Returns:
        The index of the last item of each group, increasing; the last is len(costs) - 1.

    Raises:
        ValueError: k out of range.

    Example:
        >>> balanced_groups([4, 1, 1, 1, 1, 4], 3)
        [0, 4, 5]
    """
    n = len(costs)
    if not 1 <= k <= n:
        raise ValueError(f"cannot make {k} groups of {n} items")
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    inf = float("inf")
    # worst[j][i]: smallest possible largest group over the first i items in j groups.
    worst = [[inf] * (n + 1) for _ in range(k + 1)]
    worst[0][0] = 0
    for j in range(1, k + 1):
        for i in range(j, n - (k - j) + 1):
            worst[j][i] = min(max(worst[j - 1][h], prefix[i] - prefix[h]) for h in range(j - 1, i))
    bound = worst[k][n]
    # square[j][i]: smallest sum of squares with every group ≤ bound; back[j][i]: its last cut.
    square = [[inf] * (n + 1) for _ in range(k + 1)]
    back = [[0] * (n + 1) for _ in range(k + 1)]
    square[0][0] = 0
    for j in range(1, k + 1):
        for i in range(j, n - (k - j) + 1):
            for h in range(j - 1, i):
                size = prefix[i] - prefix[h]
                if size <= bound and square[j - 1][h] + size * size < square[j][i]:
                    square[j][i] = square[j - 1][h] + size * size
                    back[j][i] = h
    ends, i = [], n
    for j in range(k, 0, -1):
        ends.append(i - 1)
        i = back[j][i]
    return ends[::-1]


def cut_aliases(graph: nx.DiGraph, cuts: Sequence[str]) -> dict[str, str]:
    """Names a user may give for each cut point: its fx node name and module names.

    A module name stands for the last node run inside that module (its output), so
    `layer1`, `layer1.2` and `layer1.2.relu` all name the output of ResNet's first stage.

    Args:
        graph: the graph of `trace` (vertex attributes `order`, `op`, `target`, `scopes`).
        cuts: the cut points.

    Returns:
        alias → cut vertex.

    Example:
        >>> from mtlspec.backbone import trace
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=2), (1, 3, 8, 8))
        >>> sorted(a for a, v in cut_aliases(t.graph, ["stages_0_relu"]).items())
        ['stages.0', 'stages.0.relu', 'stages_0_relu']
    """
    last: dict[str, str] = {}
    for v, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["order"]):
        for module in (*data["scopes"], *([data["target"]] if data["op"] == "call_module" else [])):
            last[module] = v
    wanted = set(cuts)
    aliases = {module: v for module, v in last.items() if v in wanted}
    aliases.update({v: v for v in cuts})
    return aliases


def display_names(graph: nx.DiGraph, cuts: Sequence[str]) -> dict[str, str]:
    """One readable name per cut point: its outermost module name, else its fx node name.

    Example:
        >>> from mtlspec.backbone import trace
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=2), (1, 3, 8, 8))
        >>> display_names(t.graph, ["stages_0_relu", "stages_1_relu"])
        {'stages_0_relu': 'stages.0', 'stages_1_relu': 'stages'}
    """
    best: dict[str, str] = {}
    for alias, v in cut_aliases(graph, cuts).items():
        if alias != v and (v not in best or alias.count(".") < best[v].count(".")):
            best[v] = alias
    return {v: best.get(v, v) for v in cuts}


def select_named(graph: nx.DiGraph, raw: Partition, names: Sequence[str], *,
                 backbone: str = "backbone") -> Partition:
    """Cut after the named modules or nodes (any detected cut point, before merging).

    Args:
        graph: the graph of `trace`.
        raw: the unmerged partition (`partition(..., merge=False)`).
        names: module names (`layer2`, `features.3`) or fx node names to cut after.
        backbone: backbone name for messages.

    Returns:
        The partition with one block per name, plus a last block up to the feature map when
        the last name is not the feature map itself.

    Raises:
        BackboneError: a name is not a cut point (the message lists the valid ones), or two
            names denote the same cut point.

    Example:
        >>> from mtlspec.backbone import partition, trace
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=3), (1, 3, 8, 8))
        >>> raw = partition(t.graph, t.source, t.sink, merge=False)
        >>> select_named(t.graph, raw, ["stages.0", "stages.1.bn"]).cuts
        ('stages_0_relu', 'stages_1_bn', 'stages_2_relu')
    """
    aliases = cut_aliases(graph, raw.cuts)
    bad = [n for n in names if n not in aliases]
    if bad:
        valid = ", ".join(display_names(graph, raw.cuts).values())
        raise BackboneError(
            f"{backbone}: cannot cut after {', '.join(map(repr, bad))}: not a cut point",
            hint=f"cut after one of these modules (or their fx node names): {valid}")
    chosen = [aliases[n] for n in names]
    if len(set(chosen)) != len(chosen):
        raise BackboneError(f"{backbone}: the names {list(names)} denote the same cut point twice")
    return regroup(raw, chosen)

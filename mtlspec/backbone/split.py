"""Build one module per block from a partition (mechanism; `partition` and `select` decide).

Like `torch.fx.passes.split_module`, each block becomes a GraphModule holding copies of its
nodes; unlike it, every block takes exactly one tensor and returns exactly one, so blocks can
be chained, or shared by several task branches.
"""

from __future__ import annotations

from torch import fx

from mtlspec.backbone.partition import Partition


def split(module: fx.GraphModule, part: Partition) -> list[fx.GraphModule]:
    """One GraphModule per block; chained in order they compute `module` exactly.

    Blocks reference (do not copy) the submodules and parameters of `module`, so loading
    weights into `module` updates them; deep-copy a block to give a task branch its own weights.
    Input-independent nodes (`get_attr`, constants) are copied into every block that reads them.

    Args:
        module: the features module of `trace` (one input, one tensor output).
        part: a partition of its graph (vertex names are fx node names).

    Returns:
        The block modules, each `forward(x) -> tensor`, named `Block0`, `Block1`, ...

    Raises:
        ValueError: the partition does not match the module's graph.

    Example:
        >>> blocks = split(traced.module, partition(traced.graph, traced.source, traced.sink))
        ... # doctest: +SKIP
        >>> x = image
        >>> for block in blocks:    # doctest: +SKIP
        ...     x = block(x)
    """
    nodes = {n.name: n for n in module.graph.nodes}
    missing = [v for v in (*part.assignment, *part.cuts) if v not in nodes]
    if missing:
        raise ValueError(f"partition names nodes the module lacks: {missing[:5]}")
    members: list[list[fx.Node]] = [[] for _ in part.cuts]
    for node in module.graph.nodes:  # graph order is topological
        if node.name in part.assignment:
            members[part.assignment[node.name]].append(node)
    source = next(n for n in module.graph.nodes if n.op == "placeholder")
    blocks, previous = [], source
    for index, (cut, body) in enumerate(zip(part.cuts, members, strict=True)):
        blocks.append(_block(module, previous, body, nodes[cut], f"Block{index}"))
        previous = nodes[cut]
    return blocks


def _block(module: fx.GraphModule, entry: fx.Node, body: list[fx.Node], exit_: fx.Node,
           name: str) -> fx.GraphModule:
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {entry: graph.placeholder("x")}
    inside = set(body)

    def lookup(node: fx.Node) -> fx.Node:
        if node not in env:
            if node in inside:
                raise ValueError(f"{name}: node {node.name} is used before it is computed")
            if node.op == "placeholder" or _depends_on_input(node):
                raise ValueError(f"{name}: node {node.name} crosses the block boundary")
            env[node] = graph.node_copy(node, lookup)  # an input-free constant: recompute it
        return env[node]

    for node in body:
        env[node] = graph.node_copy(node, lookup)
    graph.output(lookup(exit_))
    graph.lint()
    return fx.GraphModule(module, graph, name)


def _depends_on_input(node: fx.Node) -> bool:
    seen, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.op == "placeholder":
            return True
        for p in n.all_input_nodes:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return False

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
    A block whose first op would modify its input in place gets a `clone` first, so that
    branches sharing an input cannot disturb each other (`verify` checks the rest).

    Args:
        module: the features module of `trace` (one input, one tensor output).
        part: a partition of its graph (vertex names are fx node names).

    Returns:
        The block modules, each `forward(x) -> tensor`, named `Block0`, `Block1`, ...

    Raises:
        ValueError: the partition does not match the module's graph.

    Example:
        >>> import torch
        >>> from mtlspec.backbone import partition, trace
        >>> from mtlspec.backbone.convnet import ConvNet
        >>> t = trace(ConvNet(depth=3, width=4), (1, 3, 16, 16))
        >>> blocks = split(t.module, partition(t.graph, t.source, t.sink))
        >>> x = y = torch.randn(1, 3, 16, 16)
        >>> for block in blocks:
        ...     y = block(y)
        >>> len(blocks), torch.equal(y, t.module(x))
        (3, True)
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
    _protect_input(graph, env[entry], module)
    graph.lint()
    return fx.GraphModule(module, graph, name)


def _protect_input(graph: fx.Graph, x: fx.Node, module: fx.GraphModule) -> None:
    """Clone the block input if an op would modify it in place.

    Several task branches may read one block's output; a branch starting with, say,
    `ReLU(inplace=True)` (a block cut right after a BatchNorm) would change it under the others.
    """
    if not any(_in_place(user, module) and user.args and user.args[0] is x for user in x.users):
        return
    with graph.inserting_after(x):
        copy = graph.call_method("clone", (x,))
    x.replace_all_uses_with(copy, delete_user_cb=lambda user: user is not copy)


def _in_place(node: fx.Node, module: fx.GraphModule) -> bool:
    """Whether `node` writes into its first argument (the common, recognisable forms)."""
    if node.op == "call_module":
        return getattr(module.get_submodule(str(node.target)), "inplace", False) is True
    name = str(node.target) if node.op == "call_method" else getattr(node.target, "__name__", "")
    if node.op in ("call_method", "call_function"):
        trailing = name.endswith("_") and not name.endswith("__")  # x.add_(), torch.relu_()
        return trailing or name.startswith("__i") or node.kwargs.get("inplace") is True
    return False


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

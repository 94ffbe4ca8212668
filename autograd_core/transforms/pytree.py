"""Containers of arrays (JAX's pytrees, restricted to tuples, lists and dicts): flattening a
structure into its leaves and rebuilding it, for the transforms.

Note [containers]: an argument may be a tuple, list or dict of arrays (nested as deep as you like;
JAX's pytrees restricted to these three). Its leaves are wrapped one by one as Tensors that
require grad, `f` receives the same structure holding them, and the gradient comes back in that
structure (a namedtuple as its own type, a dict subclass as a plain dict). Anything else is a leaf,
so a list of numbers is a container of scalars, not one array. Where a structure is matched
against another (cotangents against outputs, tangents against primals) a tuple and a list of the
same length are interchangeable.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class TreeDef(NamedTuple):
    """The structure of a container: `kind` is None for a leaf, else the container's type;
    `keys` the dict's keys (None for a tuple or list); `children` one TreeDef per entry."""

    kind: type | None
    keys: tuple | None = None
    children: tuple = ()

    def describe(self) -> str:
        if self.kind is None:
            return "an array"
        return f"a {self.kind.__name__} of {len(self.children)}" + _keys(self.keys)


def _keys(keys) -> str:
    return "" if keys is None else f" (keys {', '.join(sorted(map(repr, keys)))})"


def describe_tree(tree) -> str:
    """What a (possible) container is, for error messages."""
    if isinstance(tree, (tuple, list, dict)):
        return f"a {type(tree).__name__} of {len(tree)}" + _keys(tree if isinstance(tree, dict) else None)
    return f"a {type(tree).__name__}"


LEAF = TreeDef(None)


def tree_flatten(tree, path: str = "") -> tuple[list, list[str], TreeDef]:
    """The leaves of `tree` in order, their paths (``"[1]['w']"``) and its structure."""
    if isinstance(tree, dict):
        items = [(k, tree[k], f"{path}[{k!r}]") for k in tree]
    elif isinstance(tree, (tuple, list)):
        items = [(None, t, f"{path}[{i}]") for i, t in enumerate(tree)]
    else:
        return [tree], [path], LEAF
    leaves, paths, children = [], [], []
    for _, t, p in items:
        sub, sub_paths, d = tree_flatten(t, p)
        leaves += sub
        paths += sub_paths
        children.append(d)
    keys = tuple(k for k, _, _ in items) if isinstance(tree, dict) else None
    return leaves, paths, TreeDef(type(tree), keys, tuple(children))


def tree_unflatten(d: TreeDef, leaves) -> Any:
    """Rebuild the structure `d` around `leaves` (an iterable, consumed in order)."""
    it = iter(leaves)

    def build(d: TreeDef):
        if d.kind is None:
            return next(it)
        children = [build(c) for c in d.children]
        if d.keys is not None:
            return dict(zip(d.keys, children, strict=True))
        return d.kind(*children) if hasattr(d.kind, "_fields") else d.kind(children)

    return build(d)


def flatten_like(tree, d: TreeDef, what: str, name: str, ref: str, path: str = "") -> list:
    """The leaves of `tree`, which must have the structure `d` (of `ref`): a clear error naming
    `what` and both paths otherwise. A leaf position takes whatever it is given."""
    if d.kind is None:
        return [tree]
    if d.keys is not None:
        ok = isinstance(tree, dict) and set(tree) == set(d.keys)
    else:
        ok = isinstance(tree, (tuple, list)) and len(tree) == len(d.children)
    if not ok:
        raise ValueError(f"{what}: {name}{path} is {describe_tree(tree)} but {ref}{path} is {d.describe()}; "
                         "they must have the same structure")
    keys = d.keys if d.keys is not None else range(len(d.children))
    leaves = []
    for k, c in zip(keys, d.children, strict=True):
        leaves += flatten_like(tree[k], c, what, name, ref, f"{path}[{k!r}]")
    return leaves

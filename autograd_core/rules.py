"""The rule table, gathered from its family modules: the ops at `ag`'s top level, the namespaces
`ag.linalg` and `ag.special`, and every primitive by op name (tests run over these)."""

from __future__ import annotations

from . import linalg, numpy_array, numpy_math, numpy_products, ops, special
from .primitive import Primitive

FAMILIES = (ops, numpy_math, numpy_array, numpy_products)  # their public ops are ag.<name>
NAMESPACES = {"linalg": linalg, "special": special}  # ag.linalg.<name>, ag.special.<name>

OPS: list[str] = sorted(name for family in FAMILIES for name in family.__all__)
# every public op by its dotted name under ag: "sin", "linalg.inv", "special.erf"
QUALIFIED: list[str] = OPS + sorted(f"{ns}.{name}" for ns, m in NAMESPACES.items() for name in m.__all__)


def _primitives() -> dict[str, Primitive]:
    table: dict[str, Primitive] = {}
    for module in (*FAMILIES, *NAMESPACES.values()):
        for name, prim in module.PRIMITIVES.items():
            if table.get(name, prim) is not prim:
                raise RuntimeError(f"two primitives named '{name}' (in {module.__name__} and elsewhere)")
            table[name] = prim
    return table


PRIMITIVES: dict[str, Primitive] = _primitives()
_clash = sorted({name for i, a in enumerate(FAMILIES) for b in FAMILIES[i + 1:]
                 for name in set(a.__all__) & set(b.__all__)})
if _clash:
    raise RuntimeError(f"ops defined in two families: {_clash}")

"""Random-graph rows (`OpSpec`) for the ops of tests/op_cases_products.py's family: joined into
SPEC_ROWS by tests/random_graphs.py, from whose picks and templates they are built.

Every op has a PyTorch template. Where torch's function differs from NumPy's, the pick writes the
torch spelling's parameters itself: dot, inner and tensordot as one `torch.einsum` equation or
`tensordot` dims; reductions over any axes (prod, var, std: torch takes one dim or none) as the
reduced axes moved last and flattened into one; scans and sort over the flattened input as a
reshape; diff's prepend/append as a concatenation (what np.diff does with them).

Domains: prod and cumprod draw values of magnitude 0.6 to 1.4 and stay KINK away from 0 (their
gradients at exact zeros are tested in the op cases); std's slices are not constant (a kink);
sort's slices have no two values within KINK (a tie is a kink).
"""

from __future__ import annotations

import math
import string

import numpy as np


def near_one(rng, shape):
    """Magnitudes 0.6 to 1.4, either sign: products of a few dozen stay moderate."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.6, 1.4, shape)


def contraction(nda: int, ndb: int, pairs: list[tuple[int, int]]) -> str:
    """The einsum equation of a tensordot: axis pairs (i of a, j of b) summed over, then a's
    remaining axes and b's, in order."""
    la = list(string.ascii_lowercase[:nda])
    lb = list(string.ascii_lowercase[nda:nda + ndb])
    for i, j in pairs:
        lb[j] = la[i]
    done_a, done_b = {i for i, _ in pairs}, {j for _, j in pairs}
    out = [c for i, c in enumerate(la) if i not in done_a] + [c for j, c in enumerate(lb) if j not in done_b]
    return f"{''.join(la)},{''.join(lb)}->{''.join(out)}"


def reduced_axes(axis, nd: int) -> list[int]:
    if axis is None:
        return list(range(nd))
    return sorted(a % nd for a in ((axis,) if isinstance(axis, int) else axis))


def flat_reduction(shape: tuple, axis, keepdims: bool) -> dict[str, str]:
    """torch spelling of a reduction over any axes: `x.permute(t_perm).reshape(t_flat)` puts the
    reduced axes last as one; reduce over -1; `.reshape(t_out)` gives NumPy's result shape."""
    nd = len(shape)
    axes = reduced_axes(axis, nd)
    kept = [i for i in range(nd) if i not in axes]
    out = (tuple(1 if i in axes else n for i, n in enumerate(shape)) if keepdims
           else tuple(shape[i] for i in kept))
    return {"t_perm": repr(tuple(kept + axes)), "t_flat": repr(tuple(shape[i] for i in kept) + (-1,)),
            "t_out": repr(out)}


def no_ties(v, axis, gap: float) -> bool:
    """No two values of a slice along `axis` (None: of the whole array) within `gap`."""
    v = np.asarray(v)
    s = np.sort(v.ravel()) if axis is None else np.sort(v, axis=axis)
    return bool(np.all(np.diff(s, axis=-1 if axis is None else axis) > gap))


def rows() -> list:
    import random_graphs as rg  # (imported when random_graphs assembles its table)
    from random_graphs import KINK, MAX_SIZE, OpSpec, Pick

    def small_partner(b, size_of_first: int, lo: int = 0, hi: int = 2):
        """A Tensor (or at times a constant) whose size times `size_of_first` fits a value."""
        shape = b.random_shape(lo, hi, max_size=max(1, MAX_SIZE // max(size_of_first, 1)))
        return b.const(shape) if b.rng.random() < 0.1 else b.tensor(shape=shape)

    # -- products
    def pick_dot(b) -> Pick | None:
        rng = b.rng
        a = b.tensor(ndim=(0, 3))
        if a is None:
            return None
        sa = b.shape(a)
        if not sa:
            y = small_partner(b, 1, 0, 3)
        else:
            ndb = int(rng.choice([0, 1, 2, 3], p=[0.1, 0.35, 0.4, 0.15]))
            k, m = sa[-1], int(rng.integers(1, 4))
            sb = () if ndb == 0 else (k,) if ndb == 1 else (int(rng.integers(1, 3)),) * (ndb - 2) + (k, m)
            y = b.const(sb) if rng.random() < 0.1 else b.tensor(shape=sb)
        if y is None:
            return None
        nda, ndb = len(sa), len(b.shape(y))
        pairs = [] if not nda or not ndb else [(nda - 1, max(ndb - 2, 0))]
        return Pick((a, y), {"t_eq": repr(contraction(nda, ndb, pairs))})

    def pick_inner(b) -> Pick | None:
        rng = b.rng
        a = b.tensor(ndim=(0, 3))
        if a is None:
            return None
        sa = b.shape(a)
        if not sa:
            y = small_partner(b, 1, 0, 3)
        else:
            sb = b.random_shape(0, 2, 6)[:int(rng.integers(0, 2))] + (sa[-1],) if rng.random() < 0.9 else ()
            y = b.const(sb) if rng.random() < 0.1 else b.tensor(shape=sb)
        return None if y is None else Pick((a, y))

    def pick_tensordot(b) -> Pick | None:
        rng = b.rng
        a = b.tensor(ndim=(1, 3))
        if a is None:
            return None
        sa = b.shape(a)
        nda = len(sa)
        c = int(rng.integers(0, min(nda, 2) + 1))  # how many axes are contracted
        free = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(0 if c else 1, 3 - c)))]
        if rng.random() < 0.4:  # the int form: a's last c axes with b's first c
            ax_a, sb = list(range(nda - c, nda)), tuple(sa[nda - c:]) + tuple(free)
            ax_b, axes, dims = list(range(c)), repr(c), repr(c)
        else:
            ax_a = [int(i) for i in rng.permutation(nda)[:c]]
            slots = [int(j) for j in rng.permutation(c + len(free))]
            ax_b = slots[:c]
            sb_list = [0] * (c + len(free))
            for i, j in zip(ax_a, ax_b, strict=True):
                sb_list[j] = sa[i]
            for j, n in zip(slots[c:], free, strict=True):
                sb_list[j] = n
            sb = tuple(sb_list)
            neg = [i - nda if rng.random() < 0.3 else i for i in ax_a]  # negative axes at times
            axes, dims = repr((neg, ax_b)), repr((ax_a, ax_b))
        y = b.const(sb) if rng.random() < 0.1 else b.tensor(shape=sb)
        return None if y is None else Pick((a, y), {"axes": axes, "t_dims": dims})

    def pick_outer(b) -> Pick | None:
        a = b.tensor(ndim=(0, 2))
        if a is None:
            return None
        y = small_partner(b, math.prod(b.shape(a)))
        return None if y is None else Pick((a, y))

    def pick_vdot(b) -> Pick | None:
        a = b.tensor(ndim=(0, 3))
        if a is None:
            return None
        n = math.prod(b.shape(a))
        y = b.tensor(shape=rg._factor_shape(b.rng, n) if b.rng.random() < 0.5 else b.shape(a))
        return None if y is None else Pick((a, y))

    def pick_diagonal(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(2, 3))
        if x is None:
            return None
        xs = b.shape(x)
        nd = len(xs)
        ax1, ax2 = (int(i) for i in rng.permutation(nd)[:2])
        offset = int(rng.integers(-xs[ax1] + 1, xs[ax2]))  # a diagonal of at least one element
        kw = {}
        if offset or rng.random() < 0.3:
            kw["offset"] = offset
        if (ax1, ax2) != (0, 1) or rng.random() < 0.3:
            kw["axis1"], kw["axis2"] = ax1 - (nd if rng.random() < 0.3 else 0), ax2
        params = {**rg._kw(**kw), "offset": str(offset), "axis1": str(ax1), "axis2": str(ax2)}
        return Pick((x,), params)

    def pick_diag(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(1, 2))
        if x is None:
            return None
        xs = b.shape(x)
        k = int(rng.integers(-1, 2)) if len(xs) == 1 else int(rng.integers(-xs[0] + 1, xs[1]))
        kw = rg._kw(k=k) if k or rng.random() < 0.3 else rg._kw()
        return Pick((x,), {**kw, "k": str(k)})

    def pick_triangle(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(1, 3))
        if x is None:
            return None
        xs = b.shape(x)
        k = int(rng.integers(-2, 3))
        kw = rg._kw(k=k) if k or rng.random() < 0.3 else rg._kw()
        t_shape = xs * 2 if len(xs) == 1 else xs  # a 1-d input is a square matrix of copies
        return Pick((x,), {**kw, "k": str(k), "t_shape": repr(t_shape)})

    def pick_kron(b) -> Pick | None:
        a = b.tensor(ndim=(0, 2))
        if a is None:
            return None
        y = small_partner(b, math.prod(b.shape(a)))
        return None if y is None else Pick((a, y))

    # -- reductions and scans
    def away(v) -> bool:
        return bool(np.all(np.abs(v) > KINK))

    def bounded_away(v) -> bool:
        return away(v) and bool(np.all(np.abs(v) <= 2))

    def reduction_kw(rng, axis, keepdims: bool, **extra) -> dict:
        """axis, extra keywords and keepdims as keywords (each left out at times where it is
        the default)."""
        kw = {}
        if axis is not None or rng.random() < 0.4:
            kw["axis"] = axis
        kw.update({k: v for k, v in extra.items() if v or rng.random() < 0.3})
        if keepdims or rng.random() < 0.3:
            kw["keepdims"] = keepdims
        return rg._kw(**kw)

    def pick_prod(b) -> Pick | None:
        rng = b.rng
        nd = int(rng.choice(4, p=[0.15, 0.35, 0.35, 0.15]))
        axis, keepdims = rg._axis_choice(rng, nd), bool(rng.random() < 0.3)
        x = b.tensor(ndim=(nd, nd), domain=near_one, ok=bounded_away)
        if x is None:
            return None
        params = {**reduction_kw(rng, axis, keepdims), **flat_reduction(b.shape(x), axis, keepdims)}
        return Pick((x,), params, lambda v: bounded_away(v[0]))

    def pick_moments(b, std: bool) -> Pick | None:
        rng = b.rng
        nd = int(rng.choice(4, p=[0.1, 0.35, 0.4, 0.15]))
        axis, keepdims = rg._axis_choice(rng, nd), bool(rng.random() < 0.3)

        def ok(v) -> bool:  # std: slices of two or more values, not constant (a kink) by KINK
            v = np.asarray(v)
            n = math.prod(v.shape[i] for i in reduced_axes(axis, v.ndim))
            return not std or (n > 1 and bool(np.all(np.std(v, axis=axis) > KINK)))

        x = b.tensor(ndim=(nd, nd), ok=ok)
        if x is None:
            return None
        xs = b.shape(x)
        n = math.prod(xs[i] for i in reduced_axes(axis, nd))
        ddof = int(rng.integers(0, 2)) if n > 1 else 0
        params = {**reduction_kw(rng, axis, keepdims, ddof=ddof), "ddof": str(ddof),
                  **flat_reduction(xs, axis, keepdims)}
        return Pick((x,), params, lambda v: ok(v[0]))

    def pick_scan(b, domain=rg.real, ok=None) -> Pick | None:
        rng = b.rng
        x = b.tensor(domain=domain, ok=ok)
        if x is None:
            return None
        xs = b.shape(x)
        nd = len(xs)
        axis = None if rng.random() < 0.25 else int(rng.integers(-max(nd, 1), max(nd, 1)))
        kw = rg._kw(axis=axis) if axis is not None or rng.random() < 0.3 else rg._kw()
        t_shape, t_axis = ((-1,), 0) if axis is None or nd == 0 else (xs, axis)
        return Pick((x,), {**kw, "t_shape": repr(t_shape), "t_axis": str(t_axis)},
                    None if ok is None else lambda v: ok(v[0]))

    diff_forms = ("ag.diff({0}{kw_})", "ag.diff({1}, prepend={0}{kw_})", "ag.diff({0}, append={1}{kw_})",
                  "ag.diff({1}, prepend={0}, append={2}{kw_})")

    def pick_diff(b) -> Pick | None:
        """Operands in the order they are joined: (prepend,) x (, append)."""
        rng = b.rng
        x = b.tensor(ndim=(1, 3))
        if x is None:
            return None
        xs = b.shape(x)
        nd = len(xs)
        axis = int(rng.integers(-nd, nd))
        edges = [rng.random() < 0.4, rng.random() < 0.4]  # prepend, append
        pieces = []
        for has in edges:
            if not has:
                pieces.append(None)
                continue
            shape = list(xs)
            shape[axis] = int(rng.integers(1, 3))
            e = b.const(tuple(shape)) if rng.random() < 0.3 else b.tensor(shape=tuple(shape))
            if e is None:
                return None
            pieces.append(e)
        length = xs[axis] + sum(b.shape(e)[axis] for e in pieces if e is not None)
        n = int(rng.integers(1, min(length - 1, 2) + 1)) if length > 1 else 0
        if n == 0:
            return None
        kw = {}
        if n != 1 or rng.random() < 0.3:
            kw["n"] = n
        if axis != -1 or rng.random() < 0.3:
            kw["axis"] = axis
        args = tuple(e for e in (pieces[0], x, pieces[1]) if e is not None)
        form = diff_forms[edges[0] + 2 * edges[1]]
        return Pick(args, {**rg._kw(**kw), "n": str(n), "axis": str(axis)}, form=form)

    def pick_sort(b) -> Pick | None:
        rng = b.rng
        nd = int(rng.integers(1, 4))
        axis = None if rng.random() < 0.2 else int(rng.integers(-nd, nd))

        def ok(v) -> bool:
            return no_ties(v, axis, KINK)

        x = b.tensor(ndim=(nd, nd), domain=rg.distinct, ok=ok)
        if x is None:
            return None
        kw = rg._kw(axis=axis) if axis != -1 or rng.random() < 0.3 else rg._kw()
        t_shape, t_axis = ((-1,), 0) if axis is None else (b.shape(x), axis)
        return Pick((x,), {**kw, "t_shape": repr(t_shape), "t_axis": str(t_axis)}, lambda v: ok(v[0]))

    flat = "{0}.permute({t_perm}).reshape({t_flat})"
    return [
        OpSpec("dot", pick_dot, ("ag.dot({0}, {1})", "{0}.dot({1})"), "np.dot({0}, {1})",
               "torch.einsum({t_eq}, {0}, {1})"),
        OpSpec("inner", pick_inner, ("ag.inner({0}, {1})",), "np.inner({0}, {1})", "torch.inner({0}, {1})",
               0.7),
        OpSpec("outer", pick_outer, ("ag.outer({0}, {1})",), "np.outer({0}, {1})",
               "torch.outer({0}.flatten(), {1}.flatten())", 0.7),
        OpSpec("tensordot", pick_tensordot, ("ag.tensordot({0}, {1}, axes={axes})",),
               "np.tensordot({0}, {1}, axes={axes})", "torch.tensordot({0}, {1}, dims={t_dims})"),
        OpSpec("vdot", pick_vdot, ("ag.vdot({0}, {1})",), "np.vdot({0}, {1})",
               "torch.dot({0}.flatten(), {1}.flatten())", 0.7),
        OpSpec("kron", pick_kron, ("ag.kron({0}, {1})",), "np.kron({0}, {1})",
               "torch.kron({0}.contiguous(), {1}.contiguous())", 0.7),  # (torch's kron refuses some views)
        OpSpec("trace", pick_diagonal, ("ag.trace({0}{kw_})", "{0}.trace({kw})"),
               "np.trace({0}{kw_})", "torch.diagonal({0}, {offset}, {axis1}, {axis2}).sum(-1)"),
        OpSpec("diagonal", pick_diagonal,
               ("ag.diagonal({0}{kw_})", "{0}.diagonal({kw})"), "np.diagonal({0}{kw_})",
               "torch.diagonal({0}, {offset}, {axis1}, {axis2})"),
        OpSpec("diag", pick_diag, ("ag.diag({0}{kw_})",), "np.diag({0}{kw_})", "torch.diag({0}, {k})", 0.7),
        OpSpec("tril", pick_triangle, ("ag.tril({0}{kw_})",), "np.tril({0}{kw_})",
               "torch.tril({0}.expand({t_shape}), {k})", 0.7),
        OpSpec("triu", pick_triangle, ("ag.triu({0}{kw_})",), "np.triu({0}{kw_})",
               "torch.triu({0}.expand({t_shape}), {k})", 0.7),
        OpSpec("prod", pick_prod, ("ag.prod({0}{kw_})", "{0}.prod({kw})"), "np.prod({0}{kw_})",
               f"torch.prod({flat}, -1).reshape({{t_out}})"),
        OpSpec("var", lambda b: pick_moments(b, std=False), ("ag.var({0}{kw_})", "{0}.var({kw})"),
               "np.var({0}{kw_})", f"torch.var({flat}, -1, correction={{ddof}}).reshape({{t_out}})"),
        OpSpec("std", lambda b: pick_moments(b, std=True), ("ag.std({0}{kw_})", "{0}.std({kw})"),
               "np.std({0}{kw_})", f"torch.std({flat}, -1, correction={{ddof}}).reshape({{t_out}})"),
        OpSpec("cumsum", pick_scan, ("ag.cumsum({0}{kw_})", "{0}.cumsum({kw})"), "np.cumsum({0}{kw_})",
               "torch.cumsum({0}.reshape({t_shape}), {t_axis})"),
        OpSpec("cumprod", lambda b: pick_scan(b, near_one, bounded_away),
               ("ag.cumprod({0}{kw_})", "{0}.cumprod({kw})"), "np.cumprod({0}{kw_})",
               "torch.cumprod({0}.reshape({t_shape}), {t_axis})"),
        OpSpec("diff", pick_diff, diff_forms,
               "np.diff(np.concatenate([{args}], axis={axis}), n={n}, axis={axis})",
               "torch.diff(torch.cat([{args}], {axis}), n={n}, dim={axis})"),
        OpSpec("sort", pick_sort, ("ag.sort({0}{kw_})",), "np.sort({0}{kw_})",
               "torch.sort({0}.reshape({t_shape}), dim={t_axis}, stable=True).values"),
    ]

"""Random-graph rows (`OpSpec`) for the ops of tests/op_cases_math.py's family: joined into
SPEC_ROWS by tests/random_graphs.py, from whose picks and templates they are built.

Unary ufuncs whose OpCase domain is "real", "positive" or "away_from_kink" get their rows from
random_graphs.py (sin cos arctan sinh cosh arcsinh expm1 exp2 square log2 log10); the rows here
are the ops with a narrower domain (each pick draws fresh leaves from a domain inside it, and its
`ok` keeps values that reach it inside too), the binary ops, and ag.special.

Their NumPy references that NumPy lacks (erf, digamma, ...) are op_cases_math.py's; `NUMPY_HELPERS`
names them, and `rows()` adds them to random_graphs.py's NumPy namespace where it lacks them.
PyTorch templates exist where torch has the function (cbrt as sign·|x|^(1/3)); a log_softmax over
all axes (SciPy's default) leaves out the parameter its torch template names, so that graph skips
the PyTorch comparison.
"""

from __future__ import annotations

import numpy as np
import op_cases_math as cases

NUMPY_HELPERS = (cases.np_erf, cases.np_erfc, cases.np_gammaln, cases.np_digamma, cases.np_softplus,
                 cases.np_logit, cases.np_special_logsumexp, cases.np_special_log_softmax)


def _uniform(lo: float, hi: float):
    def gen(rng, shape):
        return rng.uniform(lo, hi, shape)

    gen.__name__ = f"uniform({lo}, {hi})"
    return gen


def _from_grid(v, step: float, offset: float = 0.0) -> np.ndarray:
    """How far v is from the nearest point offset + k·step."""
    s = (np.asarray(v) - offset) / step
    return np.abs(s - np.rint(s)) * step


def _between_grid(step: float, offset: float = 0.0):
    """Values offset + (k + f)·step with f in [0.3, 0.7]: away from the grid's points by 0.3·step
    (also once a leaf's numbers are rounded to two decimals)."""

    def gen(rng, shape):
        return offset + (rng.integers(-4, 4, shape) + rng.uniform(0.3, 0.7, shape)) * step

    return gen


def rows() -> list:
    import random_graphs as rg  # (imported when random_graphs assembles its table)
    from random_graphs import KINK, OpSpec, Pick, pick_elementwise, pick_unary

    def unary(name: str, domain, ok, numpy: str, torch: str | None, weight: float = 1.0) -> OpSpec:
        return OpSpec(name, pick_unary(domain, ok), (f"ag.{name}({{0}})",), numpy, torch, weight)

    def off_integers(v) -> bool:
        return bool(np.all(_from_grid(v, 1.0) > KINK))

    def pick_round(b) -> Pick | None:
        rng = b.rng
        decimals = int(rng.choice([0, 0, 1, -1]))
        step = 10.0 ** -decimals

        def ok(v) -> bool:  # away from the jumps at the half steps, by a fifth of a step
            return bool(np.all(_from_grid(v, step, step / 2) > step / 5))

        x = b.tensor(domain=_between_grid(step, step / 2), ok=ok)
        if x is None:
            return None
        kw = rg._kw(decimals=decimals) if decimals or rng.random() < 0.3 else rg._kw()
        return Pick((x,), {**kw, "decimals": str(decimals)}, ok=lambda v: ok(v[0]))

    # remainders: x at least KINK from the multiples of 1/2 and y in {±1/2, ±1, ±2}, so x/y is
    # never within KINK/2 of an integer (where the remainder jumps)
    divisors = np.array([0.5, 1.0, 2.0])

    def divisor(rng, shape):
        return rng.choice([-1.0, 1.0], shape) * rng.choice(divisors, shape)

    def remainder_pick():
        return pick_elementwise((_between_grid(0.5), divisor),
                                (lambda v: bool(np.all(_from_grid(v, 0.5) > KINK)),
                                 lambda v: bool(np.all(np.isin(np.abs(v), divisors)))))

    def pick_logsumexp(b) -> Pick | None:
        """SciPy's logsumexp: axis None by default, at times weights b (positive, a shape that
        broadcasts into x's: a suffix of x's shape with size-1 axes)."""
        rng = b.rng
        nd = int(rng.choice(4, p=[0.15, 0.35, 0.35, 0.15]))
        axis = rg._axis_choice(rng, nd)
        keepdims = bool(rng.random() < 0.3)
        x = b.tensor(ndim=(nd, nd))
        if x is None:
            return None
        args, form = (x,), "ag.special.logsumexp({0}{kw_})"
        if rng.random() < 0.5:
            xs = b.shape(x)
            ws = tuple(1 if rng.random() < 0.3 else n for n in xs[int(rng.integers(len(xs) + 1)):])
            positive = rg.positive
            w = (b.const(ws, positive) if rng.random() < 0.2
                 else b.tensor(shape=ws, domain=positive, ok=lambda v: bool(np.all(v > 0.2))))
            if w is None:
                return None
            args, form = (x, w), "ag.special.logsumexp({0}, b={1}{kw_})"
        kw = {}
        if axis is not None or rng.random() < 0.5:
            kw["axis"] = axis
        if keepdims or rng.random() < 0.3:
            kw["keepdims"] = keepdims
        params = {**rg._kw(**kw), "axis": repr(axis), "keepdims": repr(keepdims)}
        ok = None if len(args) == 1 else (lambda v: bool(np.all(np.asarray(v[1]) > 0.2)))
        return Pick(args, params, ok, form=form)

    def pick_log_softmax(b) -> Pick | None:
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        axis = rg._axis_choice(rng, len(b.shape(x)))
        kw = rg._kw(axis=axis) if axis is not None or rng.random() < 0.5 else rg._kw()
        params = {**kw, "axis": repr(axis)}
        if isinstance(axis, int):
            params["t_axis"] = str(axis)
        return Pick((x,), params)

    def gamma_ok(v) -> bool:  # positive, or away from the poles at 0, -1, -2, ...
        return bool(np.all((v > 0.2) | (_from_grid(v, 1.0) > 0.15)))

    def inside_ok(v) -> bool:
        return bool(np.all(np.abs(v) < 0.9))

    inside = _uniform(-0.9, 0.9)
    return [
        # trigonometric and hyperbolic functions with a narrower domain than the real line
        unary("tan", rg.real, lambda v: bool(np.all(np.abs(np.cos(v)) > 0.3)), "np.tan({0})",
              "torch.tan({0})"),
        unary("arcsin", inside, inside_ok, "np.arcsin({0})", "torch.arcsin({0})"),
        unary("arccos", inside, inside_ok, "np.arccos({0})", "torch.arccos({0})"),
        unary("arctanh", inside, inside_ok, "np.arctanh({0})", "torch.arctanh({0})"),
        unary("arccosh", _uniform(1.2, 3.0), lambda v: bool(np.all(v > 1.15)), "np.arccosh({0})",
              "torch.arccosh({0})"),
        # powers with a pole or a vertical tangent at 0
        unary("reciprocal", rg.nonzero, lambda v: bool(np.all(np.abs(v) > 0.3)), "np.reciprocal({0})",
              "torch.reciprocal({0})"),
        unary("cbrt", rg.nonzero, lambda v: bool(np.all(np.abs(v) > 0.2)), "np.cbrt({0})",
              "torch.sign({0}) * torch.abs({0}) ** (1 / 3)"),
        unary("sinc", rg.real, None, "np.sinc({0})", "torch.sinc({0})"),
        # rounding (zero gradient): inputs away from the jumps
        unary("floor", _between_grid(1.0), off_integers, "np.floor({0})", "torch.floor({0})", 0.5),
        unary("ceil", _between_grid(1.0), off_integers, "np.ceil({0})", "torch.ceil({0})", 0.5),
        unary("trunc", _between_grid(1.0), off_integers, "np.trunc({0})", "torch.trunc({0})", 0.5),
        OpSpec("round", pick_round, ("ag.round({0}{kw_})", "{0}.round({kw})"), "np.round({0}, {decimals})",
               "torch.round({0}, decimals={decimals})", 0.5),
        # binary ops (broadcasting, Python numbers and constants on either side)
        OpSpec("remainder", remainder_pick(), ("ag.remainder({0}, {1})", "{0} % {1}"),
               "np.remainder({0}, {1})", "torch.remainder(T({0}), T({1}))"),
        OpSpec("mod", remainder_pick(), ("ag.mod({0}, {1})",), "np.mod({0}, {1})",
               "torch.remainder(T({0}), T({1}))", 0.5),
        OpSpec("fmod", remainder_pick(), ("ag.fmod({0}, {1})",), "np.fmod({0}, {1})",
               "torch.fmod(T({0}), T({1}))"),
        OpSpec("hypot", pick_elementwise(joint=lambda a, b: bool(np.all(np.hypot(a, b) > 0.1))),
               ("ag.hypot({0}, {1})",), "np.hypot({0}, {1})", "torch.hypot(T({0}), T({1}))"),
        # arctan2(y, x): away from the origin and from the jump at y = 0, x < 0
        OpSpec("arctan2", pick_elementwise(joint=lambda y, x: bool(np.all(
                   (np.hypot(x, y) > 0.3) & ((x > 0) | (np.abs(y) > KINK))))),
               ("ag.arctan2({0}, {1})",), "np.arctan2({0}, {1})", "torch.atan2(T({0}), T({1}))"),
        OpSpec("logaddexp", pick_elementwise(), ("ag.logaddexp({0}, {1})",), "np.logaddexp({0}, {1})",
               "torch.logaddexp(T({0}), T({1}))"),
        OpSpec("logaddexp2", pick_elementwise(), ("ag.logaddexp2({0}, {1})",), "np.logaddexp2({0}, {1})",
               "torch.logaddexp2(T({0}), T({1}))"),
        # ag.special
        OpSpec("special.erf", pick_unary(), ("ag.special.erf({0})",), "np_erf({0})",
               "torch.special.erf({0})"),
        OpSpec("special.erfc", pick_unary(), ("ag.special.erfc({0})",), "np_erfc({0})",
               "torch.special.erfc({0})"),
        OpSpec("special.expit", pick_unary(), ("ag.special.expit({0})",), "np_sigmoid({0})",
               "torch.special.expit({0})"),
        OpSpec("special.logit", pick_unary(_uniform(0.1, 0.9), lambda v: bool(np.all(np.abs(v - 0.5) < 0.4))),
               ("ag.special.logit({0})",), "np_logit({0})", "torch.special.logit({0})"),
        OpSpec("special.gammaln", pick_unary(_uniform(0.3, 5.0), gamma_ok), ("ag.special.gammaln({0})",),
               "np_gammaln({0})", "torch.special.gammaln({0})"),
        OpSpec("special.digamma", pick_unary(_uniform(0.3, 5.0), gamma_ok), ("ag.special.digamma({0})",),
               "np_digamma({0})", "torch.special.digamma({0})"),
        OpSpec("special.softplus", pick_unary(), ("ag.special.softplus({0})",), "np_softplus({0})",
               "F.softplus({0}, threshold=100.0)"),
        OpSpec("special.logsumexp", pick_logsumexp,
               ("ag.special.logsumexp({0}{kw_})", "ag.special.logsumexp({0}, b={1}{kw_})"),
               "np_special_logsumexp({args}{kw_})",
               "(lambda a, b=None: t_reduce(torch.logsumexp, a if b is None else a + torch.log(T(b)), "
               "{axis}, {keepdims}))({args})"),
        OpSpec("special.log_softmax", pick_log_softmax, ("ag.special.log_softmax({0}{kw_})",),
               "np_special_log_softmax({0}, axis={axis})", "torch.log_softmax({0}, dim={t_axis})"),
    ]

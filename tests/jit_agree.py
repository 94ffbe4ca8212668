"""What the adversarial reviews of ag.jit compare (tests/test_jit_*_review*.py): eager f against
`jit(f, fuse=True)` (numba kernels: within RTOL) and `jit(f, fuse=False)` (bitwise), with their
exceptions, warnings and argument mutations."""

from __future__ import annotations

import copy
import warnings

import numpy as np

import autograd_core as ag

RTOL = {8: 1e-12, 4: 2e-6, 2: 1e-3}  # by itemsize: float64, float32, float16


def _leaves(r):
    if isinstance(r, ag.Tensor):
        return [r.data]
    if isinstance(r, (tuple, list)):
        return [x for v in r for x in _leaves(v)]
    return [r]


def _bits(r) -> list:
    return [(type(v).__name__, np.asarray(v).dtype.str, np.shape(v), np.asarray(v).tobytes())
            for v in _leaves(r)]


def _close(got, want, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert (got.dtype, got.shape) == (want.dtype, want.shape), (what, got.dtype, want.dtype)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=RTOL[want.dtype.itemsize], atol=0, err_msg=what)
        num = ~np.isnan(want)  # (zeros of eager's sign; a NaN's sign bit is not a value)
        assert np.array_equal(np.signbit(got[num]), np.signbit(want[num])), what
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _outcome(fn, args):
    """(result, exception type or None, warnings as (category, message)) of fn(*args)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, exc = fn(*args), None
        except Exception as e:  # noqa: BLE001 (compared with eager's)
            result, exc = None, type(e)
    return result, exc, [(w.category, str(w.message)) for w in caught]


def agree(f, inputs: list[tuple], fused: bool = True, make=None, fused_warnings: bool = False,
          copy_args: bool = True):
    """Eager f, jit(f, fuse=True) and jit(f, fuse=False) on copies of each input tuple: same
    results, exceptions and argument mutations; fuse=False also the same warnings (fuse=True too
    with `fused_warnings`). `make`: builds f afresh for each of the three (its own random draws).
    `fused`: some run must have been fused. `copy_args=False`: the three get the arguments
    themselves (deepcopy would make them contiguous: for layouts, where f writes into none)."""
    fe, ff, fn = (make(), make(), make()) if make is not None else (f, f, f)
    jf, jn = ag.jit(ff, fuse=True), ag.jit(fn, fuse=False)
    for n, args in enumerate(inputs):
        a_e, a_f, a_n = (copy.deepcopy(args) if copy_args else args for _ in range(3))
        want, we, ww = _outcome(fe, a_e)
        got, gf, wf = _outcome(jf, a_f)
        plain, gn, wn = _outcome(jn, a_n)
        assert n >= 3 or we is None, f"call {n}: eager raised {we} (a trace call: nothing to test)"
        assert gn == we and gf == we, f"call {n}: exceptions: eager {we}, fuse=False {gn}, fused {gf}"
        assert wn == ww, f"call {n}: fuse=False warned {wn}, eager {ww}"
        if fused_warnings:
            assert wf == ww, f"call {n}: fused warned {wf}, eager {ww}"
        assert _bits(a_n) == _bits(a_e), f"call {n}: fuse=False mutated the arguments differently"
        for k, (g, w) in enumerate(zip(_leaves(a_f), _leaves(a_e), strict=True)):
            if isinstance(w, np.ndarray):
                _close(g, w, f"call {n}: argument {k} after the call")
        if we is not None:
            continue
        assert _bits(plain) == _bits(want), f"call {n}: fuse=False differs from eager"
        gl, wl = _leaves(got), _leaves(want)
        assert len(gl) == len(wl)
        for k, (g, w) in enumerate(zip(gl, wl, strict=True)):
            assert type(g) is type(w), (type(g), type(w))
            _close(g, w, f"call {n}: result {k}")
    assert jf.programs() and jn.programs(), "never compiled"
    if fused:
        assert any(p.runs for p in jf.programs()), f"nothing fused:\n{jf.source()}"
    return jf, jn


def _sets(rng, *shapes, n=4, dtype=np.float64):
    """n tuples of standard-normal arrays of `shapes`: a case's input sets."""
    return [tuple(rng.standard_normal(s).astype(dtype) for s in shapes) for _ in range(n)]


def kernel_path(src: str) -> str:
    """A fused program's source without the NumPy calls a kernel falls back to (the lines under
    ``if kN(...):`` down to its ``else:``): what runs when no kernel sees a value NumPy would
    report."""
    out, skip = [], None
    for line in src.splitlines():
        indent = len(line) - len(line.lstrip())
        if skip is not None:
            if indent == skip and line.strip() == "else:":
                skip = None
            continue
        if line.lstrip().startswith("if k") and line.rstrip().endswith(":"):
            skip = indent
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def training_step(model, opt, zero: bool = True):
    """A training step to jit: zero the grads (unless `zero` is False), MSE loss, backward, step."""
    import nn  # (the engine's reviews do not need nn)

    def step(x, y):
        if zero:
            opt.zero_grad()
        loss = nn.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step

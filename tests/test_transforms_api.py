"""The transforms beyond grad/vjp/jacobian/hessian: elementwise_grad, jvp, hvp, has_aux, and
containers (tuple/list/dict arguments) in grad, vjp and value_and_grad.

Every value is checked against an independent reference: a NumPy closed form, central finite
differences of a NumPy forward in float64, or an explicit Jacobian/Hessian from ag.jacobian and
ag.hessian (which are checked against closed forms in test_transforms.py).
"""

from collections import namedtuple

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _local_sin():
    """sin as a user primitive (the engine's own may not exist yet): sin' = cos, cos' = -sin."""
    sin = ag.primitive(lambda x: np.sin(x))
    cos = ag.primitive(lambda x: np.cos(x))
    sin.defvjp(lambda g, ans, x: (g * cos(x),))
    cos.defvjp(lambda g, ans, x: (-(g * sin(x)),))
    return sin


sin = getattr(ag, "sin", None) or _local_sin()


def directional_fd(f_np, primals, tangents, h=1e-6):
    """Central differences of a NumPy function in direction `tangents` (float64)."""
    plus = f_np(*[p + h * t for p, t in zip(primals, tangents, strict=True)])
    minus = f_np(*[p - h * t for p, t in zip(primals, tangents, strict=True)])
    if isinstance(plus, tuple):
        return tuple((a - b) / (2 * h) for a, b in zip(plus, minus, strict=True))
    return (plus - minus) / (2 * h)


# ---- elementwise_grad ---------------------------------------------------------------------------


def test_elementwise_grad_of_tanh_is_the_pointwise_derivative(rng):
    a = rng.standard_normal((3, 4))
    d = ag.elementwise_grad(ag.tanh)(a)
    assert isinstance(d, ag.Tensor) and d.shape == a.shape and d.dtype == np.float64
    np.testing.assert_allclose(d.data, 1 - np.tanh(a) ** 2, rtol=1e-13)
    d32 = ag.elementwise_grad(ag.tanh)(a.astype(np.float32))
    assert d32.dtype == np.float32


def test_elementwise_grad_is_column_sum_of_jacobian_and_composes(rng):
    a = rng.standard_normal(5)
    f = lambda x: ag.exp(x) * x  # noqa: E731
    d = ag.elementwise_grad(f)(a)
    np.testing.assert_allclose(d.data, ag.jacobian(f)(a).data.sum(axis=0), rtol=1e-13)
    d2 = ag.elementwise_grad(ag.elementwise_grad(f))(a)  # (x e^x)'' = (x + 2) e^x
    np.testing.assert_allclose(d2.data, (a + 2) * np.exp(a), rtol=1e-13)


def test_elementwise_grad_argnums(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    da, db = ag.elementwise_grad(lambda x, y: x * y * y, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(da.data, b * b, rtol=1e-14)
    np.testing.assert_allclose(db.data, 2 * a * b, rtol=1e-14)


def test_elementwise_grad_of_tuple_output_raises():
    with pytest.raises(TypeError, match="elementwise_grad: f must return one Tensor"):
        ag.elementwise_grad(lambda x: (x, x))(np.ones(2))


# ---- jvp ----------------------------------------------------------------------------------------


def test_jvp_of_sin(rng):
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    out, t = ag.jvp(sin, (x,), (v,))
    assert isinstance(out, ag.Tensor) and isinstance(t, ag.Tensor)
    np.testing.assert_allclose(out.data, np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(t.data, np.cos(x) * v, rtol=1e-13)
    np.testing.assert_allclose(t.data, directional_fd(np.sin, [x], [v]), rtol=1e-7, atol=1e-9)
    assert not out.requires_grad and not t.requires_grad  # nothing left to differentiate


def _net(W1, b1, W2, x):
    return ag.tanh(x @ W1 + b1) @ W2


def _net_np(W1, b1, W2, x):
    return np.tanh(x @ W1 + b1) @ W2


def test_jvp_of_a_matmul_network(rng):
    primals = (rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal((5, 2)),
               rng.standard_normal((4, 3)))
    tangents = tuple(rng.standard_normal(p.shape) for p in primals)
    out, t = ag.jvp(_net, primals, tangents)
    assert out.shape == t.shape == (4, 2)
    np.testing.assert_allclose(out.data, _net_np(*primals), rtol=1e-13)
    # against the explicit Jacobians contracted with the tangents
    jacs = ag.jacobian(_net, argnums=(0, 1, 2, 3))(*primals)
    expected = sum(np.tensordot(J.data, v, axes=v.ndim) for J, v in zip(jacs, tangents, strict=True))
    np.testing.assert_allclose(t.data, expected, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(t.data, directional_fd(_net_np, primals, tangents), rtol=1e-6, atol=1e-8)


def test_jvp_with_tuple_and_dict_outputs(rng):
    x, y = rng.standard_normal(3), rng.standard_normal((2, 3))
    vx, vy = rng.standard_normal(3), rng.standard_normal((2, 3))

    def f(a, b):
        return ag.exp(a) * b, (a * a).sum(), ag.tensor(np.ones(2))  # the last ignores a and b

    out, t = ag.jvp(f, (x, y), (vx, vy))
    assert isinstance(out, tuple) and isinstance(t, tuple) and len(t) == 3
    assert [o.shape for o in out] == [tt.shape for tt in t] == [(2, 3), (), (2,)]
    fd = directional_fd(lambda a, b: (np.exp(a) * b, (a * a).sum()), [x, y], [vx, vy])
    np.testing.assert_allclose(t[0].data, fd[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(t[0].data, np.exp(x) * vx * y + np.exp(x) * vy, rtol=1e-13)
    assert t[1].item() == pytest.approx(2 * x @ vx, rel=1e-13)
    np.testing.assert_array_equal(t[2].data, np.zeros(2))

    out, t = ag.jvp(lambda a: {"twice": a * 2.0, "list": [a, ag.tanh(a)]}, (x,), (vx,))
    assert set(t) == {"twice", "list"} and isinstance(t["list"], list)
    np.testing.assert_allclose(t["twice"].data, 2 * vx, rtol=1e-15)
    np.testing.assert_allclose(t["list"][0].data, vx, rtol=1e-15)  # the identity
    np.testing.assert_allclose(t["list"][1].data, (1 - np.tanh(x) ** 2) * vx, rtol=1e-13)


def test_jvp_same_output_twice(rng):
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    with ag.no_grad():  # transforms record what they need even under no_grad
        _, (t1, t2) = ag.jvp(lambda a: (ag.exp(a), ) * 2, (x,), (v,))
    np.testing.assert_allclose(t1.data, np.exp(x) * v, rtol=1e-14)
    np.testing.assert_allclose(t2.data, np.exp(x) * v, rtol=1e-14)


def test_jvp_keeps_float32_and_accepts_python_scalar_tangents(rng):
    x = rng.standard_normal(3).astype(np.float32)
    out, t = ag.jvp(lambda a: ag.tanh(a) * 3.0, (x,), (np.ones(3, np.float32),))
    assert out.dtype == t.dtype == np.float32
    np.testing.assert_allclose(t.data, 3 * (1 - np.tanh(x.astype(np.float64)) ** 2), rtol=1e-5)
    _, t0 = ag.jvp(lambda a: a * a, (np.float32(2.0),), (1.0,))  # a Python number takes the dtype
    assert t0.dtype == np.float32 and t0.item() == pytest.approx(4.0)


def test_jvp_with_container_primals(rng):
    p = {"w": rng.standard_normal(3), "b": [rng.standard_normal(()), rng.standard_normal(2)]}
    v = {"w": rng.standard_normal(3), "b": [rng.standard_normal(()), rng.standard_normal(2)]}

    def f(q):
        return (q["w"] * q["b"][0]).sum() + (q["b"][1] ** 2).sum()

    _, t = ag.jvp(f, (p,), (v,))
    expected = (v["w"] * p["b"][0]).sum() + (p["w"] * v["b"][0]).sum() + 2 * p["b"][1] @ v["b"][1]
    assert t.item() == pytest.approx(expected, rel=1e-13)


def test_jvp_composes_with_grad(rng):
    """jvp(grad f) is the Hessian-vector product; grad of a jvp is differentiable too."""
    A = rng.standard_normal((4, 4))
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    f = lambda z: ag.tanh(z @ ag.tensor(A) @ z) + (z ** 3).sum()  # noqa: E731
    _, hv = ag.jvp(ag.grad(f), (x,), (v,))
    H = ag.hessian(f)(x).data
    np.testing.assert_allclose(hv.data, H @ v, rtol=1e-11, atol=1e-12)
    # d/dx <J(x) v, 1> for J of g = exp(z) * z, against the elementwise closed form
    g = ag.grad(lambda z: ag.jvp(lambda y: ag.exp(y) * y, (z,), (v,))[1].sum())(x)
    np.testing.assert_allclose(g.data, (x + 2) * np.exp(x) * v, rtol=1e-13)


def test_jvp_tangent_that_requires_grad_is_differentiable(rng):
    x = rng.standard_normal(3)
    gv = ag.grad(lambda v: ag.jvp(lambda a: ag.exp(a), (x,), (v,))[1].sum())(rng.standard_normal(3))
    np.testing.assert_allclose(gv.data, np.exp(x), rtol=1e-14)


def test_jvp_does_not_touch_grad_or_caller_arrays(rng):
    W = ag.tensor(rng.standard_normal(3), requires_grad=True)
    x, v = rng.standard_normal(3), rng.standard_normal(3)
    keep = x.copy()
    out, t = ag.jvp(lambda a: ag.exp(a * W), (x,), (v,))
    np.testing.assert_allclose(t.data, np.exp(x * W.data) * W.data * v, rtol=1e-14)
    assert W.grad is None
    np.testing.assert_array_equal(x, keep)
    assert x.flags.writeable and v.flags.writeable
    ag.hvp(lambda a: (ag.exp(a * W)).sum(), (x,), (v,))
    assert W.grad is None and v.flags.writeable
    _, vjp_fn = ag.vjp(lambda a: ag.exp(a * W), x)  # a recorded sweep: the cotangent is copied
    kept = vjp_fn(v)
    assert v.flags.writeable and kept[0].requires_grad


def test_jvp_errors_name_jvp_and_the_argument(rng):
    f = lambda a, b: a * b  # noqa: E731
    x = np.ones(3)
    with pytest.raises(ValueError, match=r"jvp: tangents\[1\] has shape \(2,\) but primals\[1\] has "
                                         r"shape \(3,\)"):
        ag.jvp(f, (x, x), (x, np.ones(2)))
    with pytest.raises(TypeError, match=r"jvp: tangents\[0\] has dtype float32 but primals\[0\] has "
                                        r"dtype float64"):
        ag.jvp(f, (x, x), (x.astype(np.float32), x))
    with pytest.raises(ValueError, match="jvp: 2 primals but 1 tangents"):
        ag.jvp(f, (x, x), (x,))
    with pytest.raises(TypeError, match=r"jvp: primals must be a tuple.*jvp\(f, \(x,\), \(v,\)\)"):
        ag.jvp(ag.exp, x, (x,))
    with pytest.raises(ValueError, match=r"jvp: tangents\[0\]\['b'\] is a list of 1 but "
                                         r"primals\[0\]\['b'\] is a list of 2"):
        ag.jvp(lambda p: p["b"][0], ({"b": [x, x]},), ({"b": [x]},))
    with pytest.raises(ValueError, match=r"jvp: tangents\[0\]\[1\] has shape \(\) but primals\[0\]\[1\]"):
        ag.jvp(lambda p: p[0], ((x, x),), ((x, 1.0),))
    with pytest.raises(TypeError, match=r"jvp: cannot differentiate with respect to argument 0 of dtype int"):
        ag.jvp(lambda a: a * 2.0, (np.arange(3),), (np.ones(3),))


# ---- hvp ----------------------------------------------------------------------------------------


def _hvp_cases(rng):
    A = rng.standard_normal((4, 4))
    yield "quadratic form", lambda x: x @ (ag.tensor(A) @ x), rng.standard_normal(4)
    yield "exp times cube", lambda x: (ag.exp(x) * x ** 3).sum(), rng.standard_normal(5)
    yield "logsumexp of a matrix", lambda x: ag.logsumexp(x, axis=None), rng.standard_normal((2, 3))
    yield "tanh network", lambda W: (ag.tanh(ag.tensor(A[:3]) @ W) ** 2).mean(), rng.standard_normal((4, 2))


def test_hvp_equals_hessian_times_v(rng):
    for name, f, x in _hvp_cases(rng):
        v = rng.standard_normal(x.shape)
        hv = ag.hvp(f, (x,), (v,))
        assert isinstance(hv, tuple) and len(hv) == 1 and hv[0].shape == x.shape, name
        H = ag.hessian(f)(x).data
        expected = np.tensordot(H, v, axes=x.ndim)
        np.testing.assert_allclose(hv[0].data, expected, rtol=1e-11, atol=1e-12, err_msg=name)
        # JAX's convention: jvp of grad
        np.testing.assert_allclose(hv[0].data, ag.jvp(ag.grad(f), (x,), (v,))[1].data,
                                   rtol=1e-11, atol=1e-12, err_msg=name)


def test_hvp_with_several_primals_is_the_joint_hessian(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    M = rng.standard_normal((3, 2))
    f = lambda a, b: (ag.tanh(a @ ag.tensor(M)) * b).sum() + (a ** 4).sum()  # noqa: E731
    vx, vy = rng.standard_normal(3), rng.standard_normal(2)
    hx, hy = ag.hvp(f, (x, y), (vx, vy))
    (Hxx, Hxy), (Hyx, Hyy) = ag.hessian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(hx.data, Hxx.data @ vx + Hxy.data @ vy, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(hy.data, Hyx.data @ vx + Hyy.data @ vy, rtol=1e-11, atol=1e-12)


def test_hvp_of_container_primal_and_linear_f(rng):
    p = {"a": rng.standard_normal(3), "c": rng.standard_normal(2)}
    v = {"a": rng.standard_normal(3), "c": rng.standard_normal(2)}
    (hv,) = ag.hvp(lambda q: (q["a"] ** 3).sum() + q["c"].sum(), (p,), (v,))
    assert set(hv) == {"a", "c"}
    np.testing.assert_allclose(hv["a"].data, 6 * p["a"] * v["a"], rtol=1e-14)
    np.testing.assert_array_equal(hv["c"].data, np.zeros(2))  # f is linear in c
    (h0,) = ag.hvp(lambda z: (z * 2.0).sum(), (p["a"],), (v["a"],))
    np.testing.assert_array_equal(h0.data, np.zeros(3))


def test_hvp_and_grad_of_non_scalar_f_raise():
    with pytest.raises(TypeError, match=r"hvp requires f to return a scalar.*shape \(3,\)"):
        ag.hvp(lambda x: x * x, (np.ones(3),), (np.ones(3),))
    with pytest.raises(TypeError, match=r"grad requires f to return a scalar.*shape \(3,\)"):
        ag.grad(lambda x: x * x)(np.ones(3))
    with pytest.raises(TypeError, match=r"value_and_grad requires f to return a scalar.*a tuple"):
        ag.value_and_grad(lambda x: (x.sum(), x.sum()))(np.ones(3))
    with pytest.raises(ValueError, match=r"hvp: tangents\[0\] has shape \(2,\)"):
        ag.hvp(lambda x: (x * x).sum(), (np.ones(3),), (np.ones(2),))


# ---- has_aux ------------------------------------------------------------------------------------


def test_value_and_grad_has_aux(rng):
    a = rng.standard_normal(4)
    label = object()

    def f(x):
        y = ag.tanh(x)
        return (y * y).sum(), {"y": y, "label": label, "n": 4}

    (value, aux), g = ag.value_and_grad(f, has_aux=True)(a)
    assert value.item() == pytest.approx((np.tanh(a) ** 2).sum(), rel=1e-14)
    np.testing.assert_allclose(g.data, 2 * np.tanh(a) * (1 - np.tanh(a) ** 2), rtol=1e-13)
    assert aux["label"] is label and aux["n"] == 4
    np.testing.assert_allclose(aux["y"].data, np.tanh(a), rtol=1e-15)
    # its history ran only to the transform's own copy of `a`: detached
    assert not aux["y"].requires_grad and aux["y"].node is None

    g2, aux2 = ag.grad(f, has_aux=True)(a)  # grad's order, as in JAX: (grad, aux)
    np.testing.assert_allclose(g2.data, g.data, rtol=1e-15)
    assert aux2["label"] is label


def test_has_aux_returns_plain_aux_as_given_and_keeps_parameter_graphs(rng):
    W = ag.tensor(rng.standard_normal(3), requires_grad=True)
    aux_in = ("step", [1, 2])

    (_, aux), _ = ag.value_and_grad(lambda x: ((x * x).sum(), aux_in), has_aux=True)(np.ones(3))
    assert aux is aux_in
    # aux that depends on a parameter keeps its graph: the caller can still differentiate it
    (_, penalty), _ = ag.value_and_grad(lambda x: ((x * x).sum(), (W * W).sum() + x.sum()),
                                        has_aux=True)(np.ones(3))
    assert penalty.requires_grad
    penalty.backward()
    np.testing.assert_allclose(W.grad, 2 * W.data, rtol=1e-15)


def test_has_aux_inside_another_transform_stays_differentiable(rng):
    a = rng.standard_normal(3)

    def outer(x):
        (_, aux), _ = ag.value_and_grad(lambda y: ((y * y).sum(), ag.exp(y)), has_aux=True)(x)
        return aux.sum()

    np.testing.assert_allclose(ag.grad(outer)(a).data, np.exp(a), rtol=1e-14)


def test_has_aux_requires_a_pair():
    with pytest.raises(TypeError, match=r"value_and_grad\(has_aux=True\) requires f to return a pair"):
        ag.value_and_grad(lambda x: (x * x).sum(), has_aux=True)(np.ones(2))
    with pytest.raises(TypeError, match=r"grad\(has_aux=True\).*tuple of 3"):
        ag.grad(lambda x: (x.sum(), 1, 2), has_aux=True)(np.ones(2))


# ---- containers ---------------------------------------------------------------------------------


Params = namedtuple("Params", ["w", "b"])


def _nested(rng):
    return {
        "layer": Params(w=rng.standard_normal((3, 2)), b=rng.standard_normal(2)),
        "scale": [rng.standard_normal(()), rng.standard_normal(2).astype(np.float32)],
        "unused": (rng.standard_normal(4),),
    }


def _loss(p, x):
    h = ag.tanh(x @ p["layer"].w + p["layer"].b) * p["scale"][0]
    return (h * p["scale"][1]).sum()


def _loss_np(w, b, s0, s1, x):
    return (np.tanh(x @ w + b) * s0 * s1).sum()


def _flat(p):
    return [p["layer"].w, p["layer"].b, p["scale"][0], p["scale"][1].astype(np.float64)]


def _fd_grad(f_np, args, i, h=1e-6):
    """Central differences of f_np with respect to args[i] (float64)."""
    x = np.asarray(args[i], dtype=np.float64)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        plus = f_np(*args[:i], x + e, *args[i + 1:])
        minus = f_np(*args[:i], x - e, *args[i + 1:])
        g[k] = (plus - minus) / (2 * h)
    return g


def _check_structure(g, p):
    assert set(g) == {"layer", "scale", "unused"}
    assert isinstance(g["layer"], Params) and isinstance(g["scale"], list) and isinstance(g["unused"], tuple)
    leaves_g = [g["layer"].w, g["layer"].b, *g["scale"], *g["unused"]]
    leaves_p = [p["layer"].w, p["layer"].b, *p["scale"], *p["unused"]]
    for lg, lp in zip(leaves_g, leaves_p, strict=True):
        assert isinstance(lg, ag.Tensor) and lg.shape == lp.shape and lg.dtype == lp.dtype


def _check_values(g, p, x, rtol=1e-6):
    flat = _flat(p)
    got = [g["layer"].w, g["layer"].b, *g["scale"]]
    for i, gi in enumerate(got):
        tol = 1e-5 if gi.dtype == np.float32 else rtol
        np.testing.assert_allclose(gi.data, _fd_grad(_loss_np, [*flat, x], i), rtol=tol, atol=tol)
    np.testing.assert_array_equal(g["unused"][0].data, np.zeros(4))  # an unused leaf gets zeros


def test_grad_of_nested_containers(rng):
    p, x = _nested(rng), rng.standard_normal((5, 3))
    g = ag.grad(_loss)(p, x)
    _check_structure(g, p)
    _check_values(g, p, x)


def test_value_and_grad_of_nested_containers_with_argnums(rng):
    p, x = _nested(rng), rng.standard_normal((5, 3))
    value, (gp, gx) = ag.value_and_grad(_loss, argnums=(0, 1))(p, x)
    assert value.item() == pytest.approx(_loss_np(*_flat(p), x), rel=1e-6)
    _check_structure(gp, p)
    _check_values(gp, p, x)
    np.testing.assert_allclose(gx.data, _fd_grad(_loss_np, [*_flat(p), x], 4), rtol=1e-6, atol=1e-6)


def test_vjp_of_nested_containers(rng):
    p, x = _nested(rng), rng.standard_normal((5, 3))
    out, vjp_fn = ag.vjp(lambda q, z: {"loss": _loss(q, z), "h": [z * 2.0]}, p, x)
    assert set(out) == {"loss", "h"} and isinstance(out["h"], list)
    gp, gx = vjp_fn({"loss": np.array(1.0), "h": [np.zeros((5, 3))]})
    _check_structure(gp, p)
    _check_values(gp, p, x)
    u = rng.standard_normal((5, 3))
    gp2, gx2 = vjp_fn({"h": [u], "loss": np.array(0.0)})  # keys in any order
    np.testing.assert_allclose(gx2.data, 2 * u, rtol=1e-15)
    np.testing.assert_array_equal(gp2["layer"].w.data, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"vjp_fn: the cotangent is a dict of 1.*f's output is a dict of 2"):
        vjp_fn({"loss": np.array(1.0)})


def test_containers_in_grad_keep_callers_arrays_and_grads(rng):
    w = rng.standard_normal(3)
    t = ag.tensor(rng.standard_normal(3))
    t.grad = np.full(3, 5.0)
    keep = w.copy()
    g = ag.grad(lambda q: (q[0] * q[1]).sum())([w, t])
    assert isinstance(g, list) and len(g) == 2
    np.testing.assert_allclose(g[0].data, t.data, rtol=1e-15)
    np.testing.assert_allclose(g[1].data, w, rtol=1e-15)
    np.testing.assert_array_equal(w, keep)
    assert w.flags.writeable
    np.testing.assert_array_equal(t.grad, np.full(3, 5.0))


def test_empty_container_and_hessian_of_container(rng):
    g = ag.grad(lambda q, x: (x * x).sum(), argnums=(0, 1))({}, np.ones(2))
    assert g[0] == {}
    a = rng.standard_normal(3)
    H = ag.hessian(lambda q: (q["a"] ** 3).sum())({"a": a})
    np.testing.assert_allclose(H["a"]["a"].data, np.diag(6 * a), rtol=1e-14)


def test_non_float_leaf_in_a_container_raises():
    with pytest.raises(TypeError, match=r"grad: cannot differentiate with respect to argument "
                                        r"0\['n'\] of dtype int"):
        ag.grad(lambda q: q["x"].sum())({"x": np.ones(2), "n": np.arange(2)})

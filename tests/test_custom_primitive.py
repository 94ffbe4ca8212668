"""A user's own op: @ag.primitive + .defvjp, in backward, create_graph and the checks; and the
errors a wrong VJP gets."""

import numpy as np
import pytest

import autograd_core as ag


@pytest.fixture
def rng():
    return np.random.default_rng(99)


@ag.primitive
def cube(x):
    return x ** 3


@cube.defvjp
def cube_vjp(g, ans, x):
    return (3 * x ** 2 * g,)  # ag operators: works on arrays and, in create_graph, on Tensors


def test_cube_forward_and_backward(rng):
    a = rng.standard_normal((2, 3))
    x = ag.tensor(a, requires_grad=True)
    y = cube(x)
    assert isinstance(y, ag.Tensor) and y.node is not None and y.node.op == "cube"
    np.testing.assert_allclose(y.data, a ** 3)
    (y * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, 6 * a ** 2)


def test_cube_on_plain_arrays_is_the_numpy_function(rng):
    a = rng.standard_normal(3)
    out = cube(a)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, a ** 3)


def test_cube_create_graph_second_derivative(rng):
    a = rng.standard_normal(4)
    x = ag.tensor(a, requires_grad=True)
    cube(x).sum().backward(create_graph=True)
    g = x.grad
    assert isinstance(g, ag.Tensor) and g.requires_grad
    np.testing.assert_allclose(g.data, 3 * a ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * a)


def test_cube_hessian(rng):
    a = rng.standard_normal(3)
    H = ag.hessian(lambda x: cube(x).sum())(a)
    np.testing.assert_allclose(H.data, np.diag(6 * a), atol=1e-13)


def test_cube_gradcheck_and_gradgradcheck(rng):
    a = rng.standard_normal((3, 2))
    assert ag.gradcheck(cube, [a]).passed
    assert ag.gradgradcheck(cube, [a]).passed
    assert ag.gradcheck(lambda x: ag.tanh(cube(x)) * x, [a]).passed
    assert ag.gradgradcheck(lambda x: ag.tanh(cube(x)) * x, [a]).passed


def test_name_option_and_repr():
    p = ag.primitive(lambda x: x * 2, name="double")
    p.defvjp(lambda g, ans, x: (2 * g,))
    assert p.name == "double"
    assert "double" in repr(p)
    assert isinstance(p, ag.Primitive)
    x = ag.tensor(np.ones(2), requires_grad=True)
    assert p(x).node.op == "double"


# ---- wrong VJPs ---------------------------------------------------------------------------------


def test_wrong_number_of_cotangents():
    @ag.primitive
    def mul2(x, y):
        return x * y

    mul2.defvjp(lambda g, ans, x, y: (g * y,))  # forgot y's
    a = ag.tensor(np.ones(3), requires_grad=True)
    b = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"'mul2'.*returned 1 cotangents for 2 inputs") as info:
        mul2(a, b).sum().backward()
    assert type(info.value) is ValueError


def test_too_many_cotangents():
    @ag.primitive
    def neg(x):
        return -x

    neg.defvjp(lambda g, ans, x: (-g, -g))
    with pytest.raises(ValueError, match=r"'neg'.*returned 2 cotangents for 1 inputs"):
        neg(ag.tensor(np.ones(3), requires_grad=True)).sum().backward()


def test_wrong_shape_is_an_error_naming_primitive_input_and_shapes():
    @ag.primitive
    def scale(x, w):
        return x * w

    scale.defvjp(lambda g, ans, x, w: (g * w, np.ones((2, 2))))
    x = ag.tensor(np.ones(3), requires_grad=True)
    w = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"'scale'.*shape \(2, 2\).*input 1.*shape \(3,\)") as info:
        scale(x, w).sum().backward()
    assert type(info.value) is ValueError


def test_broadcast_compatible_wrong_shape_is_not_silently_summed():
    @ag.primitive
    def double(x):
        return 2 * x

    double.defvjp(lambda g, ans, x: (np.ones((5, 3)) * 2,))  # (5, 3) would sum to (3,)
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"'double'.*\(5, 3\).*input 0.*\(3,\)"):
        double(x).sum().backward()
    assert x.grad is None


def test_wrong_shape_in_create_graph_sweep_also_raises():
    @ag.primitive
    def double(x):
        return 2 * x

    double.defvjp(lambda g, ans, x: (ag.reshape(g, (1, 3)) * 2,))
    x = ag.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"'double'.*\(1, 3\).*input 0.*\(3,\)"):
        double(x).sum().backward(create_graph=True)


def test_bare_array_accepted_for_one_input_primitive(rng):
    @ag.primitive
    def triple(x):
        return 3 * x

    triple.defvjp(lambda g, ans, x: 3 * g)  # not a tuple
    a = rng.standard_normal(3)
    x = ag.tensor(a, requires_grad=True)
    triple(x).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 3.0))
    assert ag.gradcheck(triple, [a]).passed


def test_none_cotangent_for_an_input_is_fine(rng):
    @ag.primitive
    def shift(x, s):
        return x + s

    shift.defvjp(lambda g, ans, x, s: (g, None))  # s treated as a constant
    x = ag.tensor(rng.standard_normal(3), requires_grad=True)
    s = ag.tensor(rng.standard_normal(3), requires_grad=True)
    (shift(x, s) * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 2.0))
    assert s.grad is None


def test_vjp_with_keyword_only_needs_gets_the_mask(rng):
    seen = []

    @ag.primitive
    def mul(x, y):
        return x * y

    @mul.defvjp
    def mul_vjp(g, ans, x, y, *, needs):
        seen.append(needs)
        return (g * y if needs[0] else None, g * x if needs[1] else None)

    a = ag.tensor(rng.standard_normal(3), requires_grad=True)
    b = ag.tensor(rng.standard_normal(3))  # no grad
    mul(a, b).sum().backward()
    mul(b, a).sum().backward()
    mul(a, a).sum().backward()
    assert seen == [(True, False), (False, True), (True, True)]
    assert all(isinstance(m, tuple) and all(type(v) is bool for v in m) for m in seen)


def test_vjp_without_needs_does_not_get_it():
    @ag.primitive
    def ident(x):
        return x.copy()

    @ident.defvjp
    def ident_vjp(g, ans, x, needs=None):  # positional-or-keyword: not the opt-in form
        assert needs is None
        return (g,)

    x = ag.tensor(np.ones(2), requires_grad=True)
    ident(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(2))


def test_primitive_without_vjp_raises_when_recorded():
    @ag.primitive
    def novjp(x):
        return x * 2

    with pytest.raises(NotImplementedError, match=r"'novjp' has no VJP.*defvjp") as info:
        novjp(ag.tensor(np.ones(2), requires_grad=True))
    assert type(info.value) is NotImplementedError
    # not recorded: no error (no input requires grad, or under no_grad)
    assert novjp(ag.tensor(np.ones(2))).data.tolist() == [2.0, 2.0]
    with ag.no_grad():
        novjp(ag.tensor(np.ones(2), requires_grad=True))


def test_constant_arguments_and_keywords(rng):
    @ag.primitive
    def powk(x, k, *, scale):
        return scale * x ** k

    powk.defvjp(lambda g, ans, x, k, *, scale: (g * scale * k * x ** (k - 1), None))
    a = rng.uniform(0.5, 1.5, 3)
    x = ag.tensor(a, requires_grad=True)
    powk(x, 3, scale=2.0).sum().backward()
    np.testing.assert_allclose(x.grad, 6 * a ** 2)
    assert ag.gradcheck(lambda t: powk(t, 3, scale=2.0), [a]).passed


# ---- saves=True: the forward keeps what the VJP would recompute ---------------------------------

calls = {"forward": 0}


@ag.primitive(saves=True)
def softplus(x):
    calls["forward"] += 1
    e = np.exp(-np.abs(x))
    return np.maximum(x, 0) + np.log1p(e), e  # saves e^{-|x|} for the VJP


@softplus.defvjp
def softplus_vjp(g, ans, x, *, saved):
    if isinstance(g, ag.Tensor):  # create_graph: differentiable again, from the input
        return (g * ag.sigmoid(x),)
    e = saved  # σ(x) = 1/(1+e^{-x}) = (x >= 0 ? 1 : e) / (1 + e) with e = e^{-|x|}
    return (g * np.where(x >= 0, 1.0, e) / (1.0 + e),)


def test_saves_forward_result_and_plain_call(rng):
    a = rng.standard_normal(5)
    out = softplus(a)
    assert type(out) is np.ndarray  # on plain arrays: the output alone, not (output, saved)
    np.testing.assert_allclose(out, np.log1p(np.exp(a)))
    y = softplus(ag.tensor(a, requires_grad=True))
    assert isinstance(y, ag.Tensor) and y.shape == (5,)
    np.testing.assert_allclose(y.data, np.log1p(np.exp(a)))


def test_saves_hands_saved_to_the_vjp_and_release_drops_it(rng):
    a = rng.standard_normal(5)
    x = ag.tensor(a, requires_grad=True)
    y = softplus(x)
    node = y.node
    np.testing.assert_allclose(node.saved, np.exp(-np.abs(a)))
    before = calls["forward"]
    y.sum().backward()
    assert calls["forward"] == before  # the VJP used what was saved: no second forward
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-a)))
    assert node.released and node.saved is None


def test_saves_gradcheck_gradgradcheck_and_localization(rng):
    a = rng.standard_normal(4)
    assert ag.gradcheck(lambda t: softplus(t) * 2.0, [a]).passed
    assert ag.gradgradcheck(lambda t: softplus(t).sum(), [a]).passed
    np.testing.assert_allclose(ag.hessian(lambda t: softplus(t).sum())(a),
                               np.diag(np.exp(a) / (1 + np.exp(a)) ** 2), rtol=1e-6)

    @ag.primitive(saves=True)
    def softplus_bad(x):
        e = np.exp(-np.abs(x))
        return np.maximum(x, 0) + np.log1p(e), e

    softplus_bad.defvjp(lambda g, ans, x, *, saved: (g * saved,))  # wrong: e^{-|x|} is not σ(x)
    report = ag.gradcheck(lambda t: ag.tanh(softplus_bad(t)), [a], raise_on_fail=False)
    assert not report.passed
    assert report.first_bad_node is not None and report.first_bad_node.op == "softplus_bad"


def test_saves_forward_that_returns_no_pair_is_an_error_naming_the_primitive():
    @ag.primitive(saves=True)
    def forgot(x):
        return np.exp(x)  # should be (np.exp(x), saved)

    forgot.defvjp(lambda g, ans, x, *, saved: (g * ans,))
    a = np.ones((3, 2))
    for call in (lambda: forgot(a), lambda: forgot(ag.tensor(a, requires_grad=True))):
        with pytest.raises(TypeError, match=r"'forgot' has saves=True.*pair.*got ndarray"):
            call()  # the plain call must not return exp(a)[0], the first row


@pytest.mark.parametrize("n_inputs", [1, 2, 3, 4])
def test_a_primitive_handing_back_an_input_array_does_not_lock_it_for_good(n_inputs):
    # the output of a recorded op is made read-only for good (it is ours); a forward that returns
    # one of its inputs unchanged must get a view, or the user's array would stay read-only (here
    # with reads=(): no hold would ever unlock it). It once held only for the first two inputs.
    @ag.primitive(reads=())
    def last(*xs):
        return xs[-1]

    last.defvjp(lambda g, ans, *xs: (None,) * (len(xs) - 1) + (g,))
    arrays = [np.ones(3) for _ in range(n_inputs)]
    ts = [ag.tensor(a, requires_grad=True) for a in arrays]
    out = last(*ts)
    assert out.data is not ts[-1].data and np.shares_memory(out.data, ts[-1].data)
    ag.sum(out).backward()
    np.testing.assert_array_equal(ts[-1].grad, np.ones(3))
    for t in ts:
        assert t.data.flags.writeable
        t.data[0] = 2.0

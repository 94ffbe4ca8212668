"""autograd_core: a tape-based reverse-mode automatic differentiation engine on NumPy.

>>> import numpy as np, autograd_core as ag
>>> x = ag.tensor(np.random.randn(4, 3), requires_grad=True)
>>> W = ag.tensor(np.random.randn(3, 2), requires_grad=True)
>>> loss = ag.relu(x @ W).sum()      # every op records a node on the tape
>>> loss.backward()                  # one generic reverse sweep of vector-Jacobian products
>>> x.grad.shape, W.grad.shape
((4, 3), (3, 2))
"""

from . import ops, viz  # viz imports graphviz only when a picture is drawn
from .allocator import tune_allocator
from .anomaly import detect_anomaly
from .gradcheck import (
    GradcheckError,
    GradcheckReport,
    draw_random,
    frozen_randomness,
    gradcheck,
    gradgradcheck,
)
from .ops import (
    abs,
    add,
    astype,
    avg_pool,
    broadcast_to,
    clip,
    concatenate,
    conv2d,
    divide,
    einsum,
    exp,
    expand_dims,
    getitem,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    pad,
    power,
    relu,
    reshape,
    sigmoid,
    sign,
    sliding_window,
    softmax,
    softmax_cross_entropy,
    sqrt,
    stack,
    subtract,
    sum,
    sum_to,
    tanh,
    transpose,
    where,
)
from .primitive import Primitive, primitive
from .tape import (
    Node,
    Tape,
    enable_grad,
    module_scope,
    no_grad,
    record_source,
    register_library_dir,
    scope_stack,
)
from .tensor import Tensor, get_default_dtype, set_default_dtype, tensor
from .transforms import grad, hessian, jacobian, value_and_grad, vjp

__all__ = [
    # tensors, recording, dtypes
    "Tensor", "tensor", "Tape", "Node", "no_grad", "enable_grad", "set_default_dtype",
    "get_default_dtype", "module_scope", "record_source", "register_library_dir",
    "scope_stack",
    # defining ops
    "primitive", "Primitive",
    # the rule table (ops.py)
    "abs", "add", "astype", "avg_pool", "broadcast_to", "clip", "concatenate", "conv2d", "divide",
    "einsum", "exp", "expand_dims", "getitem", "linear", "log", "log_softmax", "logsumexp", "matmul", "max",
    "maximum", "mean", "min", "minimum", "multiply", "negative", "pad", "power", "relu", "reshape",
    "sigmoid", "sign", "sliding_window", "softmax", "softmax_cross_entropy", "sqrt", "stack",
    "subtract", "sum", "sum_to", "tanh", "transpose", "where",
    # transforms, checks, pictures
    "grad", "value_and_grad", "vjp", "jacobian", "hessian", "gradcheck", "gradgradcheck",
    "GradcheckError", "GradcheckReport", "draw_random", "frozen_randomness", "detect_anomaly",
    "viz", "ops",
    # process settings
    "tune_allocator",
]

"""autograd_core: a tape-based reverse-mode automatic differentiation engine on NumPy.

>>> import numpy as np, autograd_core as ag
>>> x = ag.tensor(np.random.randn(4, 3), requires_grad=True)
>>> W = ag.tensor(np.random.randn(3, 2), requires_grad=True)
>>> loss = ag.relu(x @ W).sum()      # every op records a node on the tape
>>> loss.backward()                  # one generic reverse sweep of vector-Jacobian products
>>> x.grad.shape, W.grad.shape
((4, 3), (3, 2))

Note [layers]: imports run one way, each module using only those above it:
    numpy_data  user data to arrays, the default dtype (Note [dtypes])
    tensor      Tensor, a holder of data, grad and the node that made it
    numpy_locks read-only protection of the arrays a VJP reads (Note [saved arrays are read-only])
    graph       Node, the recording state, no_grad
    primitive   @primitive / .defvjp: unwrap, compute, record
    kernels     array kernels (NumPy only)
    ops         THE rule table's core; attaches Tensor's operators and methods at its end
    numpy_math, numpy_array, numpy_products, linalg, special   the rest of the rule table, by family
    rules       the families gathered: public names, every primitive by op name
    numpy_dispatch  NumPy's functions on Tensors run the engine's ops (Note [no silent gradient loss])
    anomaly     where a node came from (module scopes, source lines), detect_anomaly
    backward    the sweep; attaches Tensor.backward
    transforms  grad, vjp, jacobian... (and containers of arrays: pytree.py)
    tracing     ag.jit: NumPy calls traced once, replayed as straight-line code (Note [tracing])
    gradcheck, viz, numpy_memory (glibc's allocator tuned for a tape)
"""

from . import backward as _sweep  # noqa: F401  (attaches Tensor.backward)
from . import linalg, ops, rules, special, viz  # viz imports graphviz only when a picture is drawn
from . import numpy_dispatch as _numpy_dispatch  # noqa: F401  (NumPy's functions on Tensors)
from .anomaly import detect_anomaly, module_scope, record_source, register_library_dir, scope_stack
from .gradcheck import (
    GradcheckError,
    GradcheckReport,
    draw_random,
    frozen_randomness,
    gradcheck,
    gradgradcheck,
)
from .graph import Node, enable_grad, no_grad
from .numpy_array import *  # noqa: F403
from .numpy_data import get_default_dtype, set_default_dtype
from .numpy_math import *  # noqa: F403
from .numpy_memory import tune_allocator
from .numpy_products import *  # noqa: F403
from .ops import *  # noqa: F403  (the rule table's public ops: rules.OPS)
from .primitive import Primitive, primitive
from .tensor import Tensor, tensor
from .tracing import depends_on, jit
from .transforms import Tape, elementwise_grad, grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

__all__ = [
    # tensors, recording, dtypes
    "Tensor", "tensor", "Tape", "Node", "no_grad", "enable_grad", "set_default_dtype",
    "get_default_dtype", "module_scope", "record_source", "register_library_dir", "scope_stack",
    # defining ops
    "primitive", "Primitive",
    # transforms, checks, pictures
    "grad", "value_and_grad", "elementwise_grad", "vjp", "jvp", "hvp", "jacobian", "hessian",
    "gradcheck", "gradgradcheck", "jit", "depends_on",
    "GradcheckError", "GradcheckReport", "draw_random", "frozen_randomness", "detect_anomaly",
    "viz", "ops", "linalg", "special",
    # process settings
    "tune_allocator",
    *rules.OPS,  # the rule table
]

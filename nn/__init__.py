"""nn: the lecture's deep-learning model built on autograd_core as ordinary differentiable functions.

>>> import nn
>>> model = nn.MLP([64, 128, 128, 10], activation="relu")
>>> x, labels = np.zeros((32, 64), np.float32), np.arange(32) % 10
>>> loss = nn.cross_entropy(model(x), labels)
>>> loss.backward()
>>> model.layers[0].W.grad.shape
(128, 64)
"""

import importlib

from .module import Module, Parameter, Sequential

# name -> submodule that defines it (imported on first use)
_LAZY = {
    **dict.fromkeys(["Dense", "SparseDense", "Flatten"], "layers"),
    **dict.fromkeys(["Conv2d", "AvgPool2d"], "conv"),
    **dict.fromkeys(["sigmoid", "relu", "leaky_relu", "elu", "selu",
                     "Sigmoid", "ReLU", "LeakyReLU", "ELU", "SELU"], "activations"),
    **dict.fromkeys(["mse_loss", "cross_entropy", "tikhonov"], "losses"),
    **dict.fromkeys(["MLP", "Residual", "ResidualMLP", "Dropout", "StochasticDepth"], "blocks"),
    **dict.fromkeys(["clip_grad_norm", "clip_grad_value", "clip_weights",
                     "constrain_spectral_norm"], "constraints"),
    **dict.fromkeys(["save", "load_into"], "serialization"),
    "check_gradients": "checks",
    **dict.fromkeys(["fit", "Trainer", "History", "predict", "predict_class"], "training"),
}
_SUBMODULES = {"optim", "init", "reference", "constraints", "serialization", "data", "training",
               "experiments", "distributed"}


def __getattr__(name):
    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'nn' has no attribute '{name}'")
    globals()[name] = value  # later lookups are plain attribute reads
    return value


__all__ = ["Module", "Parameter", "Sequential", *_LAZY, *sorted(_SUBMODULES)]

"""nn: the lecture's deep-learning model built on autograd_core as ordinary differentiable functions.

>>> import nn
>>> model = nn.MLP([64, 128, 128, 10], activation="relu")
>>> loss = nn.cross_entropy(model(x), labels)
"""

from .module import Module, Parameter, Sequential

__all__ = ["Module", "Parameter", "Sequential"]

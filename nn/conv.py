"""Convolution and average pooling on NCHW batches: ``ag.conv2d`` and ``ag.avg_pool``.

Both layers are the lecture's "sparse affine" layers: a convolution is a Dense layer whose
matrix is sparse with shared entries, and average pooling is a fixed fat matrix. Neither loops
over pixels or samples: ``ag.conv2d`` lays every window out as a column (im2col) and contracts
them with the kernel in one batched matrix product (its VJP scatters the windows back, col2im; see
Note [conv2d layout] in autograd_core/ops.py); ``ag.avg_pool`` averages windows with one strided
add per window offset.
"""

from __future__ import annotations

import numpy as np

import autograd_core as ag

from .layers import as_rng, float_input, he_normal_array
from .module import Module, Parameter

__all__ = ["Conv2d", "AvgPool2d"]


def _pair(name: str, layer: str, v, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints → a pair, each >= `minimum`."""
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                                 for p in pair) or min(pair) < minimum:
        raise ValueError(f"{layer}: {name} must be an int >= {minimum} or a pair of them, "
                         f"got {v!r}")
    return int(pair[0]), int(pair[1])


class Conv2d(Module):
    """2-D cross-correlation (what deep learning calls convolution), NCHW.

    ``out[n, o, h, w] = b[o] + Σ_{c,i,j} W[o, c, i, j] · xp[n, c, h·s_h + i, w·s_w + j]``, where
    ``xp`` is x zero-padded by `padding` on both sides of H and W.

    Shapes: x ``(N, c_in, H, W)`` → ``(N, c_out, H', W')`` with
    ``H' = (H + 2 p_h − k_h) // s_h + 1`` (likewise W'); kernel ``W`` ``(c_out, c_in, k_h, k_w)``,
    bias ``b`` ``(c_out,)`` (absent with ``bias=False``). `kernel_size`, `stride` and `padding`
    are an int or an ``(h, w)`` pair. Init: He-normal with fan-in ``c_in·k_h·k_w``, zero bias
    (Note [init] in nn/layers.py). Computes in W's dtype (Note [dtype] in nn/module.py; integer
    images are converted here). Raises ValueError for an input that is not 4-D, has the wrong
    number of channels, or is smaller than the kernel after padding.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        for name, n in (("c_in", c_in), ("c_out", c_out)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {n!r}")
        self.c_in, self.c_out = int(c_in), int(c_out)
        self.kernel_size = _pair("kernel_size", "Conv2d", kernel_size, 1)
        self.stride = _pair("stride", "Conv2d", stride, 1)
        self.padding = _pair("padding", "Conv2d", padding, 0)
        kh, kw = self.kernel_size
        shape = (self.c_out, self.c_in, kh, kw)
        self.W = Parameter(he_normal_array(shape, self.c_in * kh * kw, as_rng(rng)))
        self.b = Parameter(np.zeros(self.c_out, dtype=ag.get_default_dtype())) if bias else None

    def _check_input(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 4 or shape[1] != self.c_in:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.c_in}, H, W), "
                             f"got {tuple(shape)}")
        (ph, pw), (kh, kw) = self.padding, self.kernel_size
        if shape[2] + 2 * ph < kh or shape[3] + 2 * pw < kw:
            raise ValueError(f"{self!r}: input of spatial size {tuple(shape[2:])} with padding "
                             f"{self.padding} is smaller than the kernel {self.kernel_size}")

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        ag.depends_on(self, "stride", "padding")  # (ag.jit: a change traces again)
        self._check_input(tuple(np.shape(x)))
        x = float_input(x, self.W.data.dtype)
        return ag.conv2d(x, self.W, self.b, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        extra = "" if self.b is not None else ", bias=False"
        return (f"{self.c_in}→{self.c_out}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}{extra}")


class AvgPool2d(Module):
    """Average over ``k_h × k_w`` windows of the last two axes (NCHW); no padding, floor mode.

    ``out[n, c, h, w] = mean_{i,j} x[n, c, h·s_h + i, w·s_w + j]``; `stride` defaults to the
    window (non-overlapping). Shapes: ``(N, C, H, W)`` → ``(N, C, (H − k_h)//s_h + 1, …)``.
    Raises ValueError for an input that is not 4-D or is smaller than the window.
    """

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        self.kernel_size = _pair("kernel_size", "AvgPool2d", kernel_size, 1)
        self.stride = (self.kernel_size if stride is None
                       else _pair("stride", "AvgPool2d", stride, 1))

    def forward(self, x: ag.Tensor) -> ag.Tensor:
        ag.depends_on(self, "kernel_size", "stride")  # (ag.jit: a change traces again)
        shape = tuple(np.shape(x))
        if len(shape) != 4:
            raise ValueError(f"{self!r}: expected input of shape (N, C, H, W), got {shape}")
        if shape[2] < self.kernel_size[0] or shape[3] < self.kernel_size[1]:
            raise ValueError(f"{self!r}: input of spatial size {shape[2:]} is smaller than the "
                             f"window {self.kernel_size}")
        # one strided add per window offset (ag.avg_pool), not a mean over tiny window axes
        return ag.avg_pool(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

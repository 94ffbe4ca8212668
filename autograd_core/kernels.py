"""Array kernels: NumPy in, NumPy out, no Tensors. The rule table (ops.py) wraps each one as a
primitive whose VJP is its adjoint kernel, so one rule serves both sweeps.

Each kernel is here because it buys a large factor over the plain NumPy spelling: a layout BLAS
can take (`matmul_operand`), im2col and col2im as a few long copies (convolution), pooling as
one matrix product, windows as strided views and strided adds.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np


def matmul_operand(a):
    """`a`, copied to C order when neither of its last two axes is contiguous: NumPy's matmul
    then leaves BLAS for a loop two orders of magnitude slower (e.g. a zero-stride cotangent)."""
    if isinstance(a, np.ndarray) and a.ndim >= 2 and not (a.flags.c_contiguous or a.flags.f_contiguous):
        return np.ascontiguousarray(a)
    return a


# ---- sliding windows ---------------------------------------------------------------------------
def window_out(shape: tuple, size: tuple, stride: tuple) -> tuple[int, ...]:
    """The number of windows along each of the last ``len(size)`` axes (floor mode)."""
    return tuple((n - k) // s + 1 for n, k, s in zip(shape[-len(size):], size, stride, strict=True))


def sliding_window(x, size: tuple, stride: tuple):
    """Windows over the last ``len(size)`` axes as a read-only view: ``x.shape[:-k] + out + size``."""
    k = len(size)
    v = np.lib.stride_tricks.sliding_window_view(x, size, axis=tuple(range(x.ndim - k, x.ndim)))
    return v[(Ellipsis,) + tuple(slice(None, None, s) for s in stride) + (slice(None),) * k]


def sliding_window_transpose(g, shape: tuple, size: tuple, stride: tuple):
    """The adjoint of `sliding_window`: add every window back into an array of `shape`, one
    strided add per offset inside the window (not one per window)."""
    out = np.zeros(shape, dtype=np.result_type(g))
    outsz = window_out(shape, size, stride)
    for offs in itertools.product(*(range(n) for n in size)):
        dst = tuple(slice(o, o + s * (m - 1) + 1, s) for o, s, m in zip(offs, stride, outsz, strict=True))
        out[(Ellipsis,) + dst] += g[(Ellipsis,) + offs] if size else g
    return out


# ---- average pooling ---------------------------------------------------------------------------
# Note [pooling as a matmul]: non-overlapping tiles over the last one or two axes, with few output
# columns. With kh rows of tiles of kh x kw, each group of kh input rows (kh*w contiguous numbers)
# maps to one output row of wo numbers by a fixed (kh*w, wo) matrix holding 1/(kh*kw) where input
# column j // kw is output column; its transpose maps back. One BLAS call instead of kh*kw strided
# adds that move two or three numbers at a time. It does wo times the additions needed, hence the
# bound on wo; and a matmul would spread a NaN or inf over its whole row (0 * inf = NaN), so a
# result that is not all finite is computed again the exact way.
_POOL_MATMUL_MAX_WO = 16


_zeros = np.zeros  # NumPy's own: ag.jit traces np.zeros while it runs, and a cache keeps no traced array


@functools.lru_cache(maxsize=64)
def _pool_matrix(kh: int, w: int, kw: int, wo: int, dtype: np.dtype) -> np.ndarray:
    m = _zeros((kh, w, wo), dtype=dtype)
    cols = np.arange(wo * kw)
    m[:, cols, cols // kw] = 1.0 / (kh * kw)
    m.setflags(write=False)
    return m.reshape(kh * w, wo)


def _tiles(size: tuple, stride: tuple, dtype: np.dtype, wo: int) -> tuple[int, int] | None:
    """(kh, kw) when Note [pooling as a matmul] applies, else None."""
    if size == stride and len(size) <= 2 and dtype.kind == "f" and wo <= _POOL_MATMUL_MAX_WO:
        return ((1,) + size) if len(size) == 1 else size
    return None


def avg_pool(x, size: tuple, stride: tuple):
    """Mean over windows of the last ``len(size)`` axes (floor mode, no padding)."""
    outsz = window_out(x.shape, size, stride)
    dtype = x.dtype if x.dtype.kind == "f" else np.result_type(x.dtype, np.float32)
    tiles = _tiles(size, stride, x.dtype, outsz[-1])
    if tiles:
        (kh, kw), ho, wo = tiles, (outsz[-2] if len(size) == 2 else 1), outsz[-1]
        xc = x[..., :ho * kh, :wo * kw] if len(size) == 2 else x[..., :wo * kw]
        out = np.matmul(xc.reshape(-1, kh * wo * kw), _pool_matrix(kh, wo * kw, kw, wo, x.dtype))
        if np.isfinite(out).all():
            return out.reshape(x.shape[:-len(size)] + outsz)
    out = np.zeros(x.shape[:-len(size)] + outsz, dtype=dtype)
    for offs in itertools.product(*(range(n) for n in size)):
        out += x[(Ellipsis,) + tuple(slice(o, o + s * (m - 1) + 1, s)
                                     for o, s, m in zip(offs, stride, outsz, strict=True))]
    out *= 1.0 / math.prod(size)
    return out


def avg_pool_transpose(g, shape: tuple, size: tuple, stride: tuple):
    """The adjoint of `avg_pool`: each window's cotangent, over the window's size, to its inputs."""
    k = len(size)
    tiles = _tiles(size, stride, g.dtype, g.shape[-1])
    if tiles and np.isfinite(g).all():
        (kh, kw), wo = tiles, g.shape[-1]
        gx = np.matmul(g.reshape(-1, wo), _pool_matrix(kh, wo * kw, kw, wo, g.dtype).T)
        gx = gx.reshape(shape[:-k] + tuple(m * s for m, s in zip(g.shape[-k:], size, strict=True)))
        if gx.shape != shape:  # rows and columns that floor mode left out get zeros
            gx = np.pad(gx, [(0, n - m) for n, m in zip(shape, gx.shape, strict=True)])
        return gx
    windows = np.broadcast_to((g * (1.0 / math.prod(size)))[(Ellipsis,) + (None,) * k], g.shape + size)
    return sliding_window_transpose(windows, shape, size, stride)


# ---- convolution -------------------------------------------------------------------------------
# Note [conv2d layout]: im2col per sample gives cols (N, C·kh·kw, L), then ONE batched matmul
# with the kernel as a (O, C·kh·kw) matrix gives (N, O, L): NCHW directly, no transpose. With
# stride 1 the columns come from the zero-padded input flattened per channel: the window at
# offset (i, j) of output pixel (h, w) starts at flat index (h + i)·Wp + (w + j), so for each
# offset the columns of every pixel are ONE contiguous slice of length L = Ho·Wp (each row then
# carries kw − 1 junk columns, which the output crops). Building cols is kh·kw long copies, and
# col2im kh·kw long adds, where window views move W' numbers at a time. Other strides take the
# window-view path (L = Ho·Wo).
class ConvGeometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    @property
    def padded(self) -> tuple[int, int]:
        return self.h + 2 * self.ph, self.w + 2 * self.pw

    @property
    def out(self) -> tuple[int, int]:
        hp, wp = self.padded
        return (hp - self.kh) // self.sh + 1, (wp - self.kw) // self.sw + 1

    @property
    def flat(self) -> bool:
        """Stride 1: the flattened layout with junk columns (Note [conv2d layout])."""
        return self.sh == self.sw == 1

    @property
    def grid(self) -> tuple[int, int]:
        """The (rows, columns) of output pixels that cols hold, junk columns included."""
        (ho, wo), (_, wp) = self.out, self.padded
        return (ho, wp) if self.flat else (ho, wo)


def conv_geometry(xshape: tuple, wshape: tuple, stride: tuple, padding: tuple) -> ConvGeometry:
    (n, c, h, w), (o, _, kh, kw) = xshape, wshape
    return ConvGeometry(n, c, h, w, o, kh, kw, *stride, *padding)


def im2col(x, geom: ConvGeometry):
    """The columns (N, C·kh·kw, L) of `x` (N, C, H, W): see Note [conv2d layout]."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw = geom
    (hp, wp), (ho, wo) = geom.padded, geom.out
    if geom.flat:
        flat = np.zeros((n, c, hp * wp + kw - 1), dtype=x.dtype)
        flat[:, :, :hp * wp].reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w] = x
        L = ho * wp
        cols = np.empty((n, c, kh, kw, L), dtype=x.dtype)
        for i, j in itertools.product(range(kh), range(kw)):
            cols[:, :, i, j] = flat[:, :, i * wp + j: i * wp + j + L]
        return cols.reshape(n, c * kh * kw, L)
    xp = np.zeros((n, c, hp, wp), dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    win = sliding_window(xp, (kh, kw), (sh, sw))  # (N, C, Ho, Wo, kh, kw)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)


def col2im(cols, geom: ConvGeometry):
    """The adjoint of `im2col`: every window's column added back; the input's shape."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw = geom
    (hp, wp), (ho, wo) = geom.padded, geom.out
    gc = cols.reshape(n, c, kh, kw, -1)
    if geom.flat:
        L = ho * wp
        flat = np.zeros((n, c, hp * wp + kw - 1), dtype=cols.dtype)
        for i, j in itertools.product(range(kh), range(kw)):
            flat[:, :, i * wp + j: i * wp + j + L] += gc[:, :, i, j]
        return flat[:, :, :hp * wp].reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w]
    win = gc.reshape(n, c, kh, kw, ho, wo).transpose(0, 1, 4, 5, 2, 3)
    return sliding_window_transpose(win, (n, c, hp, wp), (kh, kw), (sh, sw))[:, :, ph:ph + h, pw:pw + w]

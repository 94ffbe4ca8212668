"""Data for the examples: scikit-learn's digits, MNIST from IDX files, a generated regression
set, and augmentations for small images.

Everything here is NumPy in, NumPy out (no engine code): ``x`` arrays are float32, class labels
int64, and every random choice comes from an ``rng`` argument (a ``np.random.Generator`` or an
int seed), so a seed reproduces a split or an augmented batch exactly.

>>> d = load_digits(seed=0)                       # needs scikit-learn (the "demo" extra)
>>> d.x_train.shape, d.y_train.dtype
((1258, 64), dtype('int64'))
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "Splits", "load_digits", "train_val_test_split", "shift_augment", "noise_augment", "compose",
    "read_idx", "load_mnist_idx", "make_regression",
]

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _rng(rng: np.random.Generator | int | None, who: str) -> np.random.Generator:
    if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise TypeError(f"{who}: rng must be a np.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}")
    return np.random.default_rng(rng)


# ---- splits -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Splits:
    """A data set cut into train, validation and test parts (x float32, y int64 labels)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(initial=-1), self.y_val.max(initial=-1),
                       self.y_test.max(initial=-1))) + 1

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={getattr(self, 'x_' + name).shape}"
                          for name in ("train", "val", "test"))
        return f"Splits({parts}, n_classes={self.n_classes})"


def _apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to `counts` summing to `total` (largest remainder, Hamilton's rule).

    Ties in the remainder go to the larger class, then the lower class index (deterministic).
    """
    n = counts.sum()
    if n == 0 or total == 0:
        return np.zeros_like(counts)
    quota = counts * (total / n)
    out = np.floor(quota).astype(np.int64)
    rest = total - out.sum()
    order = np.lexsort((np.arange(len(counts)), -counts, -(quota - out)))
    out[order[:rest]] += 1
    return np.minimum(out, counts)


def train_val_test_split(x: np.ndarray, y: np.ndarray, *, val: float = 0.1, test: float = 0.2,
                         rng: np.random.Generator | int | None = 0,
                         stratify: bool = True) -> Splits:
    """Cut ``(x, y)`` into train/val/test parts of ``round(N·val)`` and ``round(N·test)`` samples.

    With ``stratify=True`` (integer labels) every class keeps its share in each part, to within
    one sample (largest-remainder rounding); the order inside each part is random. Raises
    ValueError for fractions outside [0, 1) or summing to 1 or more, and for x, y of different
    lengths.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"train_val_test_split: x has {len(x)} samples, y has {len(y)}")
    for name, f in (("val", val), ("test", test)):
        if not 0.0 <= float(f) < 1.0:
            raise ValueError(f"train_val_test_split: {name} must be a fraction in [0, 1), "
                             f"got {f!r}")
    if val + test >= 1.0:
        raise ValueError(f"train_val_test_split: val + test = {val + test:g} leaves no training "
                         "data; it must be < 1")
    rng = _rng(rng, "train_val_test_split")
    n = len(y)
    n_test, n_val = round(n * test), round(n * val)
    perm = rng.permutation(n)
    if stratify:
        if y.dtype.kind not in "iu":
            raise TypeError(f"train_val_test_split: stratify=True needs integer labels, got dtype "
                            f"{y.dtype}; pass stratify=False")
        classes, inverse = np.unique(y[perm], return_inverse=True)
        counts = np.bincount(inverse, minlength=len(classes))
        t = _apportion(counts, n_test)
        v = _apportion(counts - t, n_val)
        # rank of each sample inside its class, in the random order of perm
        by_class = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(n, dtype=np.int64)
        rank[by_class] = np.arange(n) - np.repeat(starts, counts)
        part = np.where(rank < t[inverse], 2, np.where(rank < (t + v)[inverse], 1, 0))
    else:
        part = np.zeros(n, dtype=np.int64)
        part[:n_test], part[n_test:n_test + n_val] = 2, 1
    idx = [perm[part == k] for k in (0, 1, 2)]  # each part in the random order of perm
    return Splits(x[idx[0]], y[idx[0]], x[idx[1]], y[idx[1]], x[idx[2]], y[idx[2]])


# ---- digits ------------------------------------------------------------------------------------
def load_digits(seed: int | np.random.Generator | None = 0, val: float = 0.1, test: float = 0.2,
                scale: bool = True, standardize: bool = False, flat: bool = True) -> Splits:
    """scikit-learn's handwritten digits (1,797 images of 8×8 pixels, values 0–16, 10 classes),
    split into train/val/test, stratified by class and seeded (`train_val_test_split`).

    Read from the data bundled in the installed scikit-learn (never the network).
    `scale` divides pixels by 16 (values in [0, 1]); `standardize` then subtracts each pixel's
    training mean and divides by its training std (pixels that are constant in training are
    only centred). `flat`: x of shape ``(N, 64)``, else images ``(N, 1, 8, 8)``.
    Raises ImportError, saying how to install it, when scikit-learn is missing.
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:
        raise ImportError("nn.data.load_digits needs scikit-learn (it ships the digits data): "
                          "pip install 'autograd-core[demo]'  (or: pip install scikit-learn)"
                          ) from e
    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    if scale:
        x = x / np.float32(16.0)
    s = train_val_test_split(x, y, val=val, test=test, rng=seed, stratify=True)
    xs = [s.x_train, s.x_val, s.x_test]
    if standardize:
        mean = s.x_train.mean(axis=0)
        std = s.x_train.std(axis=0)
        std = np.where(std > 0, std, 1).astype(np.float32)  # constant pixels (the corners)
        xs = [(a - mean) / std for a in xs]
    if not flat:
        xs = [a.reshape(-1, 1, 8, 8) for a in xs]
    xs = [np.ascontiguousarray(a, dtype=np.float32) for a in xs]
    return Splits(xs[0], s.y_train, xs[1], s.y_val, xs[2], s.y_test)


# ---- augmentation ------------------------------------------------------------------------------
def _as_images(x: np.ndarray, who: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """View x as (N, C, H, W): (N, D) with D a square is one channel of √D × √D; (N, H, W) one
    channel. Returns the view and the original shape."""
    shape = x.shape
    if x.ndim == 2:
        side = int(round(np.sqrt(shape[1])))
        if side * side != shape[1]:
            raise ValueError(f"{who}: flat samples of length {shape[1]} are not square images; "
                             "pass images of shape (N, C, H, W)")
        return x.reshape(shape[0], 1, side, side), shape
    if x.ndim == 3:
        return x.reshape(shape[0], 1, shape[1], shape[2]), shape
    if x.ndim == 4:
        return x, shape
    raise ValueError(f"{who}: expected x of shape (N, D), (N, H, W) or (N, C, H, W), got {shape}")


def shift_augment(x: np.ndarray, rng: np.random.Generator | int | None,
                  max_shift: int = 1) -> np.ndarray:
    """Shift each image by its own random (dy, dx), each uniform in ``[-max_shift, max_shift]``,
    filling the uncovered border with zeros (pixels shifted out are lost).

    ``out[n, c, i, j] = x[n, c, i − dy_n, j − dx_n]`` (0 outside). Works on images
    ``(N, C, H, W)`` or ``(N, H, W)`` and on flat square images ``(N, H·W)`` (e.g. the 64 pixels
    of a digit); returns a new array of x's shape and dtype.
    """
    x = np.asarray(x)
    if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"shift_augment: max_shift must be an int >= 0, got {max_shift!r}")
    rng = _rng(rng, "shift_augment")
    img, shape = _as_images(x, "shift_augment")
    n, c, h, w = img.shape
    s = int(max_shift)
    if s == 0 or n == 0:
        return x.copy()
    padded = np.pad(img, ((0, 0), (0, 0), (s, s), (s, s)))
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    rows = (s - dy)[:, None] + np.arange(h)  # (N, H): padded row read by output row i
    cols = (s - dx)[:, None] + np.arange(w)
    out = padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return out.reshape(shape)


def noise_augment(x: np.ndarray, rng: np.random.Generator | int | None, sigma: float = 0.05,
                  clip: tuple[float, float] | None = None) -> np.ndarray:
    """x plus Gaussian noise of standard deviation `sigma`, optionally clipped to ``clip=(lo, hi)``
    (e.g. ``(0, 1)`` for scaled pixels). Returns a new array of x's shape and dtype."""
    x = np.asarray(x)
    if not float(sigma) >= 0:
        raise ValueError(f"noise_augment: sigma must be >= 0, got {sigma!r}")
    rng = _rng(rng, "noise_augment")
    out = x + (rng.standard_normal(x.shape) * sigma).astype(x.dtype)
    return out if clip is None else np.clip(out, clip[0], clip[1]).astype(x.dtype)


def compose(*augments: Augment) -> Augment:
    """One augmentation applying each ``augment(x, rng)`` in order (sharing the generator)."""
    for i, a in enumerate(augments):
        if not callable(a):
            raise TypeError(f"compose: argument {i} is a {type(a).__name__}, not a callable")

    def composed(x: np.ndarray, rng: np.random.Generator | int | None) -> np.ndarray:
        rng = _rng(rng, "compose")
        for a in augments:
            x = a(x, rng)
        return x

    composed.__name__ = "compose(" + ", ".join(getattr(a, "__name__", "?") for a in augments) + ")"
    return composed


# ---- IDX files (MNIST) ---------------------------------------------------------------------------
# The IDX format (LeCun's MNIST files): 2 zero bytes, a type code, the number of dimensions, then
# each dimension as a big-endian uint32, then the data, big-endian, in C order.
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the format of the MNIST files) into an array, native byte order.

    A path ending in ``.gz`` (or a file that starts with gzip's magic bytes) is decompressed.
    The data are parsed with ``np.frombuffer`` (no pickle, nothing executed). Type codes:
    0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
    Raises ValueError naming the file for a wrong magic number, an unknown type code, or a size
    that disagrees with the header (a truncated file, or bytes left over).
    """
    path = Path(os.fspath(path))
    raw = path.read_bytes()
    if path.suffix == ".gz" or raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:  # BadGzipFile is an OSError
            raise ValueError(f"read_idx: {path} is not a readable gzip file ({e})") from None
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is too short for an IDX header ({len(raw)} bytes, "
                         "need at least 4)")
    zero, code, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in _IDX_TYPES:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: magic bytes {raw[:4].hex(' ')}, expected "
            f"00 00 <type> <ndim> with type one of "
            f"{', '.join(f'{c:02x}' for c in _IDX_TYPES)} (e.g. 00 00 08 03 for MNIST images)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated: the header needs {header} bytes for "
                         f"{ndim} dimensions, the file has {len(raw)}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise ValueError(f"read_idx: {path} is {what}: dims {dims} of {dtype.newbyteorder('=')} "
                         f"need {expected} bytes of data, the file has {got}")
    data = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="))  # a native, writable copy


def load_mnist_idx(images_path: str | os.PathLike, labels_path: str | os.PathLike, *,
                   scale: bool = True, flat: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style ``(x, y)`` from an images IDX file ``(N, H, W)`` and a labels file ``(N,)``
    (e.g. ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, downloaded by you).

    x is float32, pixels divided by 255 when `scale`; ``(N, H·W)`` when `flat`, else
    ``(N, 1, H, W)``. y is int64. Raises ValueError when the files do not match.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise ValueError(f"load_mnist_idx: {images_path} holds an array of shape {images.shape}; "
                         "images must be (N, H, W)")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"load_mnist_idx: {labels_path} holds {labels.dtype} of shape "
                         f"{labels.shape}; labels must be integers of shape (N,)")
    if len(images) != len(labels):
        raise ValueError(f"load_mnist_idx: {len(images)} images but {len(labels)} labels")
    x = images.astype(np.float32)
    if scale:
        x /= np.float32(255.0)
    n, h, w = images.shape
    x = x.reshape(n, h * w) if flat else x.reshape(n, 1, h, w)
    return x, labels.astype(np.int64)


# ---- generated regression ------------------------------------------------------------------------
def make_regression(n: int = 500, d: int = 4, noise: float = 0.1,
                    seed: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth nonlinear regression problem: x ~ N(0, I_d), and

        y = sin(2·aᵀx) + ½(bᵀx)² − ½ + noise·ε,   ε ~ N(0, 1)

    with random unit vectors a, b drawn from `seed`. Returns x ``(n, d)`` and y ``(n, 1)``, both
    float32 (y has one column, the shape of a network's output for ``nn.mse_loss``).
    """
    if not isinstance(n, (int, np.integer)) or n < 1 or not isinstance(d, (int, np.integer)) \
            or d < 1:
        raise ValueError(f"make_regression: n and d must be positive ints, got n={n!r}, d={d!r}")
    if not float(noise) >= 0:
        raise ValueError(f"make_regression: noise must be >= 0, got {noise!r}")
    rng = _rng(seed, "make_regression")
    a, b = rng.standard_normal((2, d))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    x = rng.standard_normal((n, d))
    y = np.sin(2 * x @ a) + 0.5 * (x @ b) ** 2 - 0.5 + noise * rng.standard_normal(n)
    return x.astype(np.float32), y[:, None].astype(np.float32)

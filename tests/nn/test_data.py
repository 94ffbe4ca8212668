"""nn.data: the digits split, augmentations, the IDX reader and the generated regression set."""

import gzip
import struct

import numpy as np
import pytest

from nn import data

# ---- digits --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return data.load_digits(seed=0)


def test_digits_split_sizes_and_dtypes(digits):
    n = 1797
    assert len(digits.x_test) == round(0.2 * n) and len(digits.x_val) == round(0.1 * n)
    assert len(digits.x_train) + len(digits.x_val) + len(digits.x_test) == n
    for part in ("train", "val", "test"):
        x, y = getattr(digits, "x_" + part), getattr(digits, "y_" + part)
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.shape == (len(y), 64)
    assert digits.n_classes == 10


def test_digits_parts_are_disjoint_and_cover_the_set(digits):
    from sklearn.datasets import load_digits

    full = load_digits().data.astype(np.float32) / 16
    # each row of each part is some row of the full set, and none appears twice
    rows = np.concatenate([digits.x_train, digits.x_val, digits.x_test])
    keys = {r.tobytes() for r in rows}
    assert len(keys) == len({r.tobytes() for r in full})
    assert keys == {r.tobytes() for r in full}


def test_digits_split_is_stratified(digits):
    total = np.bincount(np.concatenate([digits.y_train, digits.y_val, digits.y_test]))
    for part, frac in (("val", 0.1), ("test", 0.2)):
        counts = np.bincount(getattr(digits, "y_" + part), minlength=10)
        assert np.all(np.abs(counts - total * frac) <= 1), (part, counts, total * frac)


def test_digits_split_is_seeded(digits):
    again = data.load_digits(seed=0)
    other = data.load_digits(seed=1)
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    assert not np.array_equal(other.y_train, digits.y_train)


def test_digits_scaling_and_standardization(digits):
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    raw = data.load_digits(seed=0, scale=False)
    assert raw.x_train.max() == 16.0
    std = data.load_digits(seed=0, standardize=True)
    np.testing.assert_allclose(std.x_train.mean(axis=0), 0, atol=1e-5)
    sd = std.x_train.std(axis=0)
    varying = digits.x_train.std(axis=0) > 0
    np.testing.assert_allclose(sd[varying], 1, rtol=1e-4)
    assert np.all(sd[~varying] == 0)  # the constant corner pixels are only centred


def test_digits_as_images(digits):
    img = data.load_digits(seed=0, flat=False)
    assert img.x_train.shape == (len(digits.x_train), 1, 8, 8)
    np.testing.assert_array_equal(img.x_train.reshape(-1, 64), digits.x_train)


def test_missing_sklearn_is_a_clear_import_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'autograd-core\[demo\]'"):
        data.load_digits()


def test_split_validates_fractions():
    x, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="val"):
        data.train_val_test_split(x, y, val=1.2)
    with pytest.raises(ValueError, match="no training data"):
        data.train_val_test_split(x, y, val=0.5, test=0.5)
    with pytest.raises(ValueError, match="samples"):
        data.train_val_test_split(x, y[:5])


def test_split_without_stratification_keeps_sizes(rng):
    x = rng.standard_normal((50, 3)).astype(np.float32)
    s = data.train_val_test_split(x, x[:, 0], val=0.2, test=0.1, rng=0, stratify=False)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (35, 10, 5)


# ---- augmentation --------------------------------------------------------------------------------


def one_pixel_images(n, h=8, w=8, at=(3, 4)):
    x = np.zeros((n, 1, h, w), dtype=np.float32)
    x[:, 0, at[0], at[1]] = 1.0
    return x


def test_shift_moves_each_image_by_at_most_one_pixel():
    x = one_pixel_images(200)
    out = data.shift_augment(x, np.random.default_rng(0), max_shift=1)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.all(out.sum(axis=(1, 2, 3)) == 1)  # an interior pixel is never lost
    pos = np.argwhere(out[:, 0] == 1)[:, 1:]
    moves = pos - np.array([3, 4])
    assert np.abs(moves).max() == 1
    # all nine (dy, dx) in {-1, 0, 1}² occur: the shift is drawn per sample
    assert len({tuple(m) for m in moves}) == 9
    assert not np.shares_memory(out, x)


def test_shift_fills_with_zeros_and_drops_pixels_pushed_out():
    x = one_pixel_images(100, at=(0, 0))
    out = data.shift_augment(x, 1)
    kept = out.sum(axis=(1, 2, 3))
    assert set(np.unique(kept)) == {0.0, 1.0}  # shifted up or left: the pixel falls off
    full = np.ones((50, 1, 8, 8), np.float32)
    out = data.shift_augment(full, 2)
    assert out.min() == 0.0 and set(np.unique(out)) <= {0.0, 1.0}


def test_shift_matches_a_direct_definition(rng):
    x = rng.standard_normal((20, 2, 5, 6)).astype(np.float32)
    out = data.shift_augment(x, np.random.default_rng(3), max_shift=2)
    draw = np.random.default_rng(3)  # the same draws, in the documented order
    dy, dx = draw.integers(-2, 3, size=20), draw.integers(-2, 3, size=20)
    expected = np.zeros_like(x)
    for n in range(20):
        for i in range(5):
            for j in range(6):
                si, sj = i - dy[n], j - dx[n]
                if 0 <= si < 5 and 0 <= sj < 6:
                    expected[n, :, i, j] = x[n, :, si, sj]
    np.testing.assert_array_equal(out, expected)


def test_shift_on_flat_and_3d_inputs():
    x = one_pixel_images(30)
    flat = data.shift_augment(x.reshape(30, 64), np.random.default_rng(5))
    img = data.shift_augment(x, np.random.default_rng(5))
    assert flat.shape == (30, 64)
    np.testing.assert_array_equal(flat.reshape(30, 1, 8, 8), img)
    three = data.shift_augment(x[:, 0], np.random.default_rng(5))
    np.testing.assert_array_equal(three, img[:, 0])
    np.testing.assert_array_equal(data.shift_augment(x, 0, max_shift=0), x)
    with pytest.raises(ValueError, match="square"):
        data.shift_augment(np.zeros((2, 10)), 0)


def test_noise_and_compose(rng):
    x = np.full((1000, 64), 0.5, np.float32)
    out = data.noise_augment(x, 0, sigma=0.1)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert abs(float(np.std(out - x)) - 0.1) < 0.01
    clipped = data.noise_augment(x, 0, sigma=5.0, clip=(0, 1))
    assert clipped.min() >= 0 and clipped.max() <= 1
    both = data.compose(data.shift_augment, data.noise_augment)
    a, b = both(x, np.random.default_rng(7)), both(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    with pytest.raises(TypeError, match="callable"):
        data.compose(data.shift_augment, 3)


# ---- IDX files -----------------------------------------------------------------------------------

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    """The IDX encoding, written here independently of the reader."""
    header = struct.pack(">BBBB", 0, 0, TYPE_CODES[a.dtype.type], a.ndim)
    header += struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(a.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(TYPE_CODES), ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
def test_idx_round_trip(tmp_path, rng, dtype, compressed):
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    raw = idx_bytes(a)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    b = data.read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(b, a)


def test_idx_gzip_without_suffix_and_one_dim(tmp_path):
    a = np.arange(7, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(data.read_idx(path), a)


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match=r"not an IDX file.*01 02 08 01"):
        data.read_idx(path)
    path.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")  # unknown type code
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short"):
        data.read_idx(path)


def test_idx_truncated_and_oversized(tmp_path):
    raw = idx_bytes(np.zeros((4, 3, 3), np.uint8))
    path = tmp_path / "t.idx"
    path.write_bytes(raw[:-5])
    with pytest.raises(ValueError, match=r"truncated.*\(4, 3, 3\).*36 bytes.*31"):
        data.read_idx(path)
    path.write_bytes(raw[:10])  # cut inside the dimension list
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(path)
    path.write_bytes(raw + b"\x00")
    with pytest.raises(ValueError, match="longer than its header"):
        data.read_idx(path)
    gz = tmp_path / "t.idx.gz"
    gz.write_bytes(gzip.compress(raw)[:-6])
    with pytest.raises(ValueError, match="gzip"):
        data.read_idx(gz)


def test_load_mnist_idx(tmp_path, rng):
    images = rng.integers(0, 256, size=(6, 4, 4)).astype(np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 9], np.uint8)
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "lab").write_bytes(idx_bytes(labels))
    x, y = data.load_mnist_idx(tmp_path / "img.gz", tmp_path / "lab")
    assert x.dtype == np.float32 and x.shape == (6, 16) and y.dtype == np.int64
    np.testing.assert_allclose(x, images.reshape(6, 16) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    x4, _ = data.load_mnist_idx(tmp_path / "img.gz", tmp_path / "lab", flat=False, scale=False)
    assert x4.shape == (6, 1, 4, 4) and x4.max() == images.max()
    (tmp_path / "short").write_bytes(idx_bytes(labels[:5]))
    with pytest.raises(ValueError, match="6 images but 5 labels"):
        data.load_mnist_idx(tmp_path / "img.gz", tmp_path / "short")


# ---- regression ----------------------------------------------------------------------------------


def test_make_regression_shapes_and_seed():
    x, y = data.make_regression(120, 3, noise=0.1, seed=4)
    assert x.shape == (120, 3) and y.shape == (120, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    x2, y2 = data.make_regression(120, 3, noise=0.1, seed=4)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    _, y3 = data.make_regression(120, 3, noise=0.1, seed=5)
    assert not np.array_equal(y, y3)
    # noise only adds to a fixed function of x
    _, clean = data.make_regression(120, 3, noise=0.0, seed=4)
    assert 0.05 < float(np.std(y - clean)) < 0.15
    with pytest.raises(ValueError, match="positive"):
        data.make_regression(0, 3)

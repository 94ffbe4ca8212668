"""nn.save / nn.load_into: .npz round trips bit for bit, never pickle, refuse bad files whole."""

import pickle
import re
import zipfile

import numpy as np
import pytest

import nn
from nn.serialization import load_into, save


class Block(nn.Module):
    def __init__(self, fill=None):
        super().__init__()
        rng = np.random.default_rng(0)
        w = rng.standard_normal((4, 3)) if fill is None else np.full((4, 3), fill)
        self.W = nn.Parameter(np.asfortranarray(w))  # Fortran-ordered float64
        self.b = nn.Parameter(
            np.zeros(4, dtype=np.float32) if fill is None else np.full(4, fill, np.float32)
        )


class Net(nn.Module):
    """Parameters of both dtypes and memory orders, a submodule (dotted names) and two buffers."""

    def __init__(self, fill=None):
        super().__init__()
        rng = np.random.default_rng(1)
        big = rng.standard_normal((6, 10)).astype(np.float32)
        if fill is None:
            # special values must survive bit for bit too
            big[0, :4] = [np.nan, -0.0, np.inf, -np.inf]
        else:
            big[:] = fill
        self.V = nn.Parameter(big)
        self.V.data = big[::2, 1::3]  # strided, non-contiguous view (shape (3, 3))
        self.block = Block(fill)
        self.register_buffer(
            "mask", rng.random((3, 3)) > 0.5 if fill is None else np.zeros((3, 3), bool)
        )
        self.register_buffer(
            "running", rng.standard_normal(5) if fill is None else np.full(5, fill)
        )


def snapshot(m):
    return {k: (v.dtype, v.shape, v.tobytes()) for k, v in m.state_dict().items()}


EXPECTED_NAMES = {"V", "block.W", "block.b", "mask", "running"}


def test_round_trip_is_bit_exact(tmp_path):
    src = Net()
    assert not src.V.data.flags.c_contiguous and src.block.W.data.flags.f_contiguous
    assert not src.block.W.data.flags.c_contiguous
    path = save(src, tmp_path / "net.npz")
    dst = Net(fill=7.0)
    params_before = dst.parameters()
    load_into(dst, path)
    assert set(dst.state_dict()) == EXPECTED_NAMES
    for name, want in src.state_dict().items():
        got = dst.state_dict()[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert np.array_equal(got, want, equal_nan=True), name
        assert got.tobytes() == want.tobytes(), name  # NaN payload and -0.0 included
    assert dst.V.data.dtype == np.float32 and dst.block.W.data.dtype == np.float64
    assert all(a is b for a, b in zip(dst.parameters(), params_before, strict=True))  # same objects


def test_written_file_is_plain_npz_without_pickle(tmp_path):
    src = Net()
    path = save(src, tmp_path / "net.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == EXPECTED_NAMES
        for name, want in src.state_dict().items():
            assert npz[name].tobytes() == want.tobytes() and npz[name].dtype == want.dtype
    with zipfile.ZipFile(path) as zf:  # every member an .npy with a non-object dtype
        for info in zf.infolist():
            header = zf.read(info.filename)[:128]
            assert info.filename.endswith(".npy") and header.startswith(b"\x93NUMPY")
            assert b"'|O'" not in header


def test_path_without_suffix(tmp_path):
    src = Net()
    written = save(src, tmp_path / "ckpt")
    assert written == str(tmp_path / "ckpt.npz")  # np.savez's rule: .npz appended
    assert not (tmp_path / "ckpt").exists()
    for path in (tmp_path / "ckpt", written, str(tmp_path / "ckpt")):
        dst = Net(fill=0.0)
        load_into(dst, path)
        assert snapshot(dst) == snapshot(src)


def test_object_array_refused_without_unpickling(tmp_path, monkeypatch):
    good = Net().state_dict()
    evil = {**good, "running": np.array([1, "x", None], dtype=object)}
    np.savez(tmp_path / "evil.npz", **evil)  # np.savez pickles object arrays

    def no_unpickling(*args, **kwargs):
        raise AssertionError("load_into unpickled something")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    dst = Net(fill=3.0)
    before = snapshot(dst)
    with pytest.raises(ValueError, match="object arrays.*running"):
        load_into(dst, tmp_path / "evil.npz")
    assert snapshot(dst) == before


@pytest.mark.parametrize(
    "edit,names",
    [
        (lambda d: d.pop("block.b"), ["missing", "block.b"]),
        (
            lambda d: d.update(extra=np.zeros(2), **{"block.c": np.ones(1)}),
            ["unexpected", "block.c", "extra"],
        ),
        (lambda d: d.update(V=np.zeros((3, 4), np.float32)), ["V", r"\(3, 4\)", r"\(3, 3\)"]),
        (lambda d: d.update(mask=np.zeros(9, bool)), ["mask"]),
        (lambda d: (d.pop("V"), d.update(junk=np.zeros(1))), ["missing: V", "unexpected: junk"]),
        (lambda d: d.update(running=np.array(["a"] * 5)), ["running", "not numeric"]),
    ],
    ids=["missing", "extra", "shape", "buffer_shape", "missing_and_extra", "strings"],
)
def test_bad_contents_refused_and_module_unchanged(tmp_path, edit, names):
    state = Net().state_dict()  # other values than dst's, so a partial load would show
    edit(state)
    np.savez(tmp_path / "bad.npz", **state)
    dst = Net(fill=5.0)
    before = snapshot(dst)
    with pytest.raises(ValueError) as err:
        load_into(dst, tmp_path / "bad.npz")
    for name in names:
        assert re.search(name, str(err.value)), (name, str(err.value))
    assert snapshot(dst) == before


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip at all", b"\x93NUMPY\x01\x00garbage"],
    ids=["empty", "text", "npy_magic"],
)
def test_non_npz_file_refused(tmp_path, content):
    (tmp_path / "bad.npz").write_bytes(content)
    dst = Net(fill=1.0)
    before = snapshot(dst)
    with pytest.raises(ValueError, match="npz"):
        load_into(dst, tmp_path / "bad.npz")
    assert snapshot(dst) == before


def test_corrupt_or_truncated_npz_refused(tmp_path):
    raw = open(save(Net(), tmp_path / "good.npz"), "rb").read()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF  # inside a member's data: CRC mismatch
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    for name in ("cut.npz", "flip.npz"):
        dst = Net(fill=2.0)
        before = snapshot(dst)
        with pytest.raises(ValueError):
            load_into(dst, tmp_path / name)
        assert snapshot(dst) == before, name


def test_missing_file_and_unsaveable_buffer(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_into(Net(), tmp_path / "nope")
    m = Net()
    m.register_buffer("labels", np.array(["cat", "dog"]))
    with pytest.raises(ValueError, match="labels"):
        save(m, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []  # nothing (not even a temporary file) left behind


def test_name_that_collides_with_savez_keywords(tmp_path):
    class M(nn.Module):
        def __init__(self, v):
            super().__init__()
            self.file = nn.Parameter(np.full(2, v))
            self.allow_pickle = nn.Parameter(np.full(3, v))

    path = save(M(1.5), tmp_path / "m")
    dst = M(0.0)
    load_into(dst, path)
    np.testing.assert_array_equal(dst.file.data, [1.5, 1.5])
    np.testing.assert_array_equal(dst.allow_pickle.data, [1.5] * 3)


def test_via_nn_namespace(tmp_path):
    src, dst = Net(), Net(fill=0.0)
    nn.load_into(dst, nn.save(src, tmp_path / "n.npz"))
    assert snapshot(dst) == snapshot(src)


def test_dtype_cast_like_torch_but_never_lossy_beyond_rounding(tmp_path):
    """Values are cast to the module's dtypes (float64 into float32 rounds); a cast that would
    overflow or truncate is refused up front, so no half-loaded module even when warnings are
    errors (pytest's filterwarnings = error::RuntimeWarning)."""
    good = {
        k: v.astype(np.float64) if v.dtype == np.float32 else v
        for k, v in Net().state_dict().items()
    }
    np.savez(tmp_path / "f64.npz", **good)
    dst = Net(fill=0.0)
    load_into(dst, tmp_path / "f64.npz")
    assert dst.V.data.dtype == np.float32 and dst.block.b.data.dtype == np.float32
    np.testing.assert_array_equal(dst.V.data, good["V"].astype(np.float32))
    for name, bad_value in [("V", 1e300), ("mask", 0.5)]:
        state = dict(good)
        arr = state[name].astype(np.float64)
        arr.flat[-1] = bad_value
        state[name] = arr
        np.savez(tmp_path / "bad.npz", **state)
        dst = Net(fill=4.0)
        before = snapshot(dst)
        with pytest.raises(ValueError, match=f"cannot hold: {name} "):
            load_into(dst, tmp_path / "bad.npz")
        assert snapshot(dst) == before

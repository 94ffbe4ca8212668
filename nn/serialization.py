"""`save` / `load_into`: a module's state dict as an ``.npz`` archive, never pickle.

The file is the format ``np.savez`` writes (a zip of ``<name>.npy`` members, uncompressed): any
NumPy reads it with ``np.load(path, allow_pickle=False)``. Arrays round-trip bit for bit (NaN
payloads and -0.0 included); memory order is not kept, values are (a Fortran-ordered or strided
parameter comes back C-ordered with identical values, shape and dtype).

Why not ``np.savez(path, **state)`` itself: a parameter named ``file`` or ``allow_pickle`` would
collide with its keyword arguments, and ``np.savez`` pickles object arrays silently. We write the
same zip with ``np.lib.format.write_array(..., allow_pickle=False)`` per member instead, to a
temporary file in the same folder that is flushed to disk (``fsync``) and then renamed over `path`
(``os.replace``, atomic): a failed or interrupted save leaves the previous file intact and no half
file.

`write_checkpoint` / `read_checkpoint` write and read `nn.fit`'s checkpoint file the same atomic,
pickle-free way; what a checkpoint holds (the model, the optimizer's `state_dict`, every random
stream fit draws from, fit's own state) is nn/checkpoint.py's (Note [checkpoints] there). Its
names that lived here before, `random_streams` and the rest, can still be imported from here.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .checkpoint import (  # noqa: F401 (the names re-exported were defined here before)
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    checked_streams,
    checkpoint_file,
    model_state_problems,
    random_streams,
    stream_states,
)
from .module import Module

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip


def _npz_path(path: str | os.PathLike) -> Path:
    """`path` with ``.npz`` appended unless it already ends with it (``np.savez``'s rule)."""
    p = Path(os.fspath(path))
    return p if p.name.endswith(".npz") else p.with_name(p.name + ".npz")


def _write_npz(target: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write `arrays` as an ``.npz`` at `target` atomically: a temporary file in the same folder,
    flushed to disk, then renamed over `target`; on any error (or Ctrl-C) the temporary file is
    removed and whatever `target` held before is untouched."""
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
                for name, arr in arrays.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())  # the data are on disk before the rename makes them current
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); folders cannot be opened on Windows: skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(module: Module, path: str | os.PathLike) -> str:
    """Write ``module.state_dict()`` (parameters and buffers, by dotted name) to an ``.npz``.

    As with ``np.savez``, ``.npz`` is appended to a path that does not end with it; the path
    actually written is returned (a str). No pickle is written: a buffer holding an object (or other
    non-numeric) array raises ValueError naming it, and nothing is written.
    """
    state = module.state_dict()
    bad = sorted(n for n, a in state.items() if np.asarray(a).dtype.kind not in "biuf")
    if bad:
        raise ValueError(
            f"save: non-numeric arrays cannot be saved without pickle: {', '.join(bad)}"
        )
    target = _npz_path(path)
    _write_npz(target, state)
    return str(target)


def _resolve(path: str | os.PathLike) -> Path:
    p = Path(os.fspath(path))
    if p.is_file():
        return p
    alt = _npz_path(p)
    if alt != p and alt.is_file():
        return alt
    tried = f"{p}" if alt == p else f"{p} or {alt}"
    raise FileNotFoundError(f"load_into: no file {tried}")


# Note [casts before loading]
# module.load_state_dict casts each array to the target's dtype while it assigns. A cast that
# overflows (1e300 into float32) only warns there, and a warning raised as an error (pytest's
# filterwarnings = error) would stop it halfway: some parameters loaded, others not. So the casts
# are done here first, silently, and checked, before anything is assigned; load_state_dict then
# gets arrays that already have the module's dtypes.
def _cast_to_module_dtypes(module: Module, state: dict[str, np.ndarray]) -> list[str]:
    """Cast `state`'s arrays (in place in the dict) to the module's dtypes; return lossy names."""
    current = {name: p.data for name, p in module.named_parameters()}
    current.update(module.named_buffers())
    lossy = []
    for name, arr in state.items():
        want = current.get(name)
        if want is None or arr.shape != want.shape or arr.dtype == want.dtype:
            continue  # load_state_dict reports unexpected names and wrong shapes
        if arr.dtype.kind not in "biuf" or want.dtype.kind not in "biuf":
            continue  # ... and non-numeric dtypes
        with np.errstate(all="ignore"):
            cast = arr.astype(want.dtype)
            if want.dtype.kind == "f":
                bad = np.isfinite(arr) & ~np.isfinite(cast)
            else:
                bad = cast.astype(arr.dtype) != arr  # nan != nan counts as lost, rightly
        if np.any(bad):
            lossy.append(f"{name} ({arr.dtype} into {want.dtype})")
        else:
            state[name] = cast
    return sorted(lossy)


def _read_npz(p: Path, who: str, hint: str = "") -> dict[str, np.ndarray]:
    """Every member of the ``.npz`` at `p`, never unpickling: ValueError (naming `who`, the file
    and the members) for a file that is not an ``.npz``, a corrupt one, or object arrays."""
    with open(p, "rb") as f:
        head = f.read(4)
    if head not in _ZIP_MAGIC:
        raise ValueError(
            f"{who}: {p} is not an .npz archive (a zip of .npy arrays){hint}"
        )
    state: dict[str, np.ndarray] = {}
    object_arrays, unreadable = [], []
    try:
        with np.load(p, allow_pickle=False) as npz:
            for name in npz.files:
                try:
                    state[name] = npz[name]
                except ValueError as e:
                    if "allow_pickle" in str(e):  # numpy refuses before unpickling anything
                        object_arrays.append(name)
                    else:
                        unreadable.append(f"{name} ({e})")
                except (OSError, EOFError, zipfile.BadZipFile) as e:
                    unreadable.append(f"{name} ({e})")
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{who}: {p} is not a readable .npz archive ({e})") from e
    problems = []
    if object_arrays:
        problems.append(
            f"object arrays (refused: loading them would need pickle): "
            f"{', '.join(sorted(object_arrays))}"
        )
    if unreadable:
        problems.append(f"unreadable members: {'; '.join(unreadable)}")
    if problems:
        raise ValueError(f"{who}: {p}: " + "; ".join(problems))
    return state


def load_into(module: Module, path: str | os.PathLike) -> None:
    """Load an ``.npz`` written by `save` into `module`, all or nothing.

    `path` may omit the ``.npz`` suffix that `save` appended. The file is read with
    ``np.load(path, allow_pickle=False)``: nothing is ever unpickled. Refused with ValueError,
    before the module is touched: a file that is not an ``.npz`` archive (or is corrupt), members
    holding object arrays (named), and then, via the strict ``module.load_state_dict``, names
    missing from the file or unexpected in it and arrays of the wrong shape or a non-numeric
    dtype (all named). On success every parameter keeps its identity (optimizers still hold
    it) and its dtype: values are cast to it, as PyTorch's ``load_state_dict`` does (float64
    into float32 rounds); grads are reset to None. A cast that would change values beyond
    rounding (a finite float overflowing to inf, a non-integral or out-of-range value into an
    integer or bool buffer) is refused, named, up front (Note [casts before loading]).
    """
    p = _resolve(path)
    state = _read_npz(p, "load_into", hint="; write it with nn.save")
    lossy = _cast_to_module_dtypes(module, state)
    if lossy:
        raise ValueError(f"load_into: {p}: values that the module's dtype cannot hold: "
                         f"{', '.join(lossy)}")
    try:
        module.load_state_dict(state)
    except ValueError as e:
        raise ValueError(f"load_into: {p}: {e}") from e


# ---- checkpoints ---------------------------------------------------------------------------------
# The file nn.fit(..., checkpoint=DIR) keeps, written and read as save and load_into do; what it
# holds, and how a run goes into it and comes back, is checkpoint.py's (Note [checkpoints] there).
def write_checkpoint(folder: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write `arrays` to ``folder/checkpoint.npz`` atomically (the folder is created); on any
    error the previous checkpoint stays as it was."""
    target = checkpoint_file(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_npz(target, arrays)
    return target


def read_checkpoint(folder: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The arrays of ``folder/checkpoint.npz``, or None when there is none; ValueError for a file
    that is not a readable ``.npz`` or was written in another layout."""
    p = checkpoint_file(folder)
    if not p.is_file():
        return None
    arrays = _read_npz(p, "fit: checkpoint")
    fmt = arrays.get("format")
    if fmt is None or fmt.shape != () or fmt.dtype.kind not in "iu" or int(fmt) != CHECKPOINT_FORMAT:
        raise ValueError(f"fit: checkpoint {p}: not a checkpoint of layout {CHECKPOINT_FORMAT} "
                         f"(its 'format' member is {None if fmt is None else fmt.tolist()!r})")
    return arrays

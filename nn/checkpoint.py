"""`nn.fit`'s checkpoints: what one holds, how a run is put into one, and how it is restored.

``nn.fit(..., checkpoint=DIR)`` keeps one file, ``DIR/checkpoint.npz`` (`checkpoint_file`). It
holds (Note [checkpoints]) the model's ``state_dict``, the optimizer's ``state_dict``, the number of
completed epochs, fit's history and early-stopping state (best val_loss, epochs waited, the best
epoch's weights), the val_split rows, and the state of every random stream the run draws from
(`random_streams`): numeric arrays only, read back with ``np.load(path, allow_pickle=False)``;
nothing is pickled.

Atomic writes: `snapshot_run` copies all of it into arrays after every epoch, and
``serialization.write_checkpoint`` writes them the way ``nn.save`` writes (a temporary file in the
same folder, fsync, ``os.replace``): a failed or interrupted write leaves the previous checkpoint
intact, and one file means the model, the optimizer and the random state come from the same epoch.

What is restored: `restore_run` loads a checkpoint into the model, the optimizer, every random
stream and the run's history, epoch and early stopping, all or nothing: every part is first checked
against this run (parameter names, shapes and dtypes; the optimizer's state; the random streams;
the data's sizes and val_split rows), and a mismatch raises ValueError naming each, with nothing
changed. Resumed with the same arguments, a run continues bit for bit as if never interrupted.

Reading and writing the file's bytes is serialization.py's (`write_checkpoint`, `read_checkpoint`,
with the atomic writer of `nn.save`); it imports this module, and so does training.py, whose `fit`
calls it (Note [Ctrl-C] there: what an interrupted run saves). This module imports neither.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .module import Module

# ---- the layout ----------------------------------------------------------------------------------
# Note [checkpoints]
# nn.fit(..., checkpoint=DIR) keeps one file, DIR/checkpoint.npz, rewritten atomically after every
# epoch (serialization.write_checkpoint): one file, so model, optimizer and random state can never
# come from different epochs. Its members, all numeric arrays (np.load(path, allow_pickle=False)
# reads them):
#   format, epoch        the layout version (CHECKPOINT_FORMAT); the number of completed epochs
#   model/<name>         model.state_dict()
#   optimizer/<key>      optimizer.state_dict() (Note [optimizer state dicts] in optim.py)
#   rng/<stream>         one random stream's state as JSON text in a uint8 array (a PCG64 state is
#                        a 128-bit integer, which no NumPy dtype holds)
#   fit/<name>, best/<name>   fit's own state: history, early stopping, the val_split rows, the
#                        best epoch's weights (snapshot_run writes them, restore_run reads them)
# The random streams (random_streams) are every generator a run can draw from: fit's rng (the
# shuffling, val_split, augment's argument); each np.random.Generator or RandomState a module of
# the model holds (Dropout, StochasticDepth, a user's layer); those held by the callables passed to
# fit (augment, lr_schedule, constraints, ...: in closures, functools.partial arguments, defaults,
# the object of a bound method or a callable object, and module globals the code names); NumPy's
# global legacy generator (np.random.rand, np.random.seed) and Python's `random`. Restoring all of
# them is what makes a resumed run draw the same masks, orders and augmentations as an
# uninterrupted one. A generator created afresh inside a callable (np.random.default_rng() per
# call) has no state to save: such a run is not reproducible, resumed or not.
CHECKPOINT_FILE = "checkpoint.npz"
CHECKPOINT_FORMAT = 1
_Stream = np.random.Generator | np.random.RandomState | types.ModuleType  # or np.random / random


def checkpoint_file(folder: str | os.PathLike) -> Path:
    """The checkpoint file `nn.fit` keeps in `folder`."""
    return Path(os.fspath(folder)) / CHECKPOINT_FILE


# ---- what fit carries between epochs, and what a checkpoint restores -----------------------------
_HISTORY_LISTS = ("loss", "val_loss", "accuracy", "val_accuracy", "epoch_time", "lr")


@dataclass
class RunState:
    """One `fit` run's state beyond the model and the optimizer: the random streams it draws from,
    the data's sizes and val_split rows (checked on resume), the history and early stopping."""

    streams: dict[str, Any]
    data: dict[str, Any]
    split: np.ndarray | None
    keep_best: bool
    history: Any  # a nn.history.History, which fit creates (this module cannot import it)
    epoch: int = 0  # completed epochs
    best_loss: float = math.inf
    best_state: dict[str, np.ndarray] | None = None
    wait: int = 0


# ---- a run into a checkpoint and back ------------------------------------------------------------
def checkpoint_folder(checkpoint, resume: bool, optimizer) -> Path | None:
    """The folder that ``fit(..., checkpoint=..., resume=...)`` names, checked; None for none."""
    if checkpoint is None:
        if resume:
            raise ValueError("fit: resume=True needs checkpoint=DIR, the folder that the run to "
                             "continue wrote")
        return None
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"fit: checkpoint must be a folder path, got {type(checkpoint).__name__}")
    folder = Path(os.fspath(checkpoint))
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"fit: checkpoint={str(folder)!r} is a file; pass a folder (fit "
                         f"writes {CHECKPOINT_FILE} in it)")
    if not _can_snapshot(optimizer):
        raise TypeError(f"fit: checkpoint= needs an optimizer with state_dict() and "
                        f"load_state_dict(), got {type(optimizer).__name__}")
    return folder


def _can_snapshot(optimizer) -> bool:
    return all(callable(getattr(optimizer, m, None))
               for m in ("state_dict", "load_state_dict"))


def first_snapshot(model: Module, optimizer, run: RunState,
                   required: bool) -> dict[str, np.ndarray] | None:
    """The state before this call's first epoch; None (Ctrl-C then simply raises) when the
    optimizer or a buffer cannot be saved as numbers and no checkpoint was asked for."""
    try:
        return snapshot_run(model, optimizer, run) if _can_snapshot(optimizer) else None
    except TypeError:
        if required:
            raise
        return None


def snapshot_run(model: Module, optimizer, run: RunState) -> dict[str, np.ndarray]:
    """Everything a checkpoint holds (Note [checkpoints]), as copies."""
    h = run.history
    arrays: dict[str, np.ndarray] = {
        "format": np.int64(CHECKPOINT_FORMAT), "epoch": np.int64(run.epoch)}
    arrays.update({f"model/{k}": v for k, v in model.state_dict().items()})
    arrays.update({f"optimizer/{k}": np.array(v, copy=True)
                   for k, v in optimizer.state_dict().items()})
    bad = sorted(k for k, v in arrays.items() if v.dtype.kind not in "biuf")
    if bad:
        raise TypeError(f"fit: checkpoint: {', '.join(bad)} are not numbers or numeric arrays "
                        "(a checkpoint holds no pickled objects)")
    arrays.update(stream_states(run.streams))
    arrays.update({f"fit/history.{name}": np.array(getattr(h, name), np.float64)
                   for name in _HISTORY_LISTS})
    arrays["fit/best_epoch"] = np.int64(-1 if h.best_epoch is None else h.best_epoch)
    arrays["fit/stopped_early"] = np.bool_(h.stopped_early)
    arrays["fit/best_loss"] = np.float64(run.best_loss)
    arrays["fit/wait"] = np.int64(run.wait)
    arrays.update({k: np.asarray(v) for k, v in run.data.items()})
    if run.split is not None:
        arrays["fit/split"] = np.array(run.split, np.int64)
    if run.best_state is not None:
        arrays.update({f"best/{k}": v.copy() for k, v in run.best_state.items()})
    return arrays


def restore_run(model: Module, optimizer, arrays: dict[str, np.ndarray], run: RunState,
                path: Path) -> None:
    """Load a checkpoint into the model, the optimizer, the random streams and `run`, all or
    nothing: every part is checked first; ValueError naming each mismatch."""
    problems: list[str] = []
    part = {p: {k.removeprefix(p): v for k, v in arrays.items() if k.startswith(p)}
            for p in ("model/", "optimizer/", "best/")}
    problems += model_state_problems(model, part["model/"], "model/")
    if part["best/"]:
        problems += model_state_problems(model, part["best/"], "best/")
    restore_streams = checked_streams(run.streams, arrays, problems)
    fit_state = _read_fit_state(arrays, run, problems)
    if problems:
        raise ValueError(f"fit: checkpoint {path} does not match this run: "
                         + "; ".join(problems) + "; nothing was changed")
    try:  # the last check, and the first change: load_state_dict is all or nothing itself
        optimizer.load_state_dict(part["optimizer/"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"fit: checkpoint {path}: optimizer/: {e}; nothing was changed") from e
    model.load_state_dict(part["model/"])
    restore_streams()
    run.history, run.epoch, run.best_loss, run.wait = fit_state
    run.best_state = part["best/"] if part["best/"] and run.keep_best else None


# ---- reading a checkpoint back, checked against this run -----------------------------------------
def saved_split(saved: dict[str, np.ndarray], n: int, folder: Path) -> np.ndarray:
    """The val_split permutation a checkpoint holds (a resumed run holds out the same rows)."""
    perm = saved.get("fit/split")
    where = f"fit: checkpoint {checkpoint_file(folder)}"
    if perm is None:
        raise ValueError(f"{where}: the run that wrote it had no val_split; resume with the same "
                         "arguments")
    if (perm.dtype.kind not in "iu" or perm.shape != (n,)
            or not np.array_equal(np.sort(perm), np.arange(n))):
        raise ValueError(f"{where}: its val_split rows (fit/split, {perm.shape}) are not a "
                         f"permutation of the {n} samples of x; resume with the same data")
    return perm.astype(np.intp)


def _member(arrays: dict[str, np.ndarray], key: str, kinds: str, ndim: int,
            problems: list[str]) -> np.ndarray | None:
    a = arrays.get(key)
    if a is None:
        problems.append(f"{key}: missing")
    elif a.dtype.kind not in kinds or a.ndim != ndim:
        problems.append(f"{key}: a {a.ndim}-d {a.dtype} array, expected {ndim}-d of kind {kinds!r}")
    else:
        return a
    return None


def _read_fit_state(arrays: dict[str, np.ndarray], run: RunState,
                    problems: list[str]) -> tuple[Any, int, float, int] | None:
    """fit's part of a checkpoint, checked against this run; problems go to `problems`."""
    n = len(problems)
    for key, want in run.data.items():
        got = arrays.get(key)
        if got is None or got.shape != np.shape(want) or not np.array_equal(got, want):
            shown = None if got is None else got.tolist()
            problems.append(f"{key}: the checkpoint's run had {shown}, this one {np.asarray(want).tolist()} "
                            "(resume with the same data)")
    if run.split is None and "fit/split" in arrays:
        problems.append("fit/split: the run that wrote it held out a val_split; this one has none")
    epoch = _member(arrays, "epoch", "iu", 0, problems)
    lists = {name: _member(arrays, f"fit/history.{name}", "f", 1, problems)
             for name in _HISTORY_LISTS}
    best_epoch = _member(arrays, "fit/best_epoch", "iu", 0, problems)
    stopped = _member(arrays, "fit/stopped_early", "b", 0, problems)
    best_loss = _member(arrays, "fit/best_loss", "f", 0, problems)
    wait = _member(arrays, "fit/wait", "iu", 0, problems)
    if len(problems) > n:
        return None
    if lists["loss"].shape != (int(epoch),):
        problems.append(f"fit/history.loss: {len(lists['loss'])} entries for {int(epoch)} epochs")
        return None
    # a new History of the class fit passed in (training.py imports this module, not the reverse)
    history = type(run.history)(**{name: [float(v) for v in a] for name, a in lists.items()},
                                best_epoch=None if best_epoch < 0 else int(best_epoch),
                                stopped_early=bool(stopped))
    return history, int(epoch), float(best_loss), int(wait)


def model_state_problems(model: Module, saved: Mapping[str, np.ndarray], prefix: str) -> list[str]:
    """How `saved` (name → array) differs from ``model.state_dict()``: names missing or unexpected,
    shapes and dtypes (no casts: a resumed run must be exact)."""
    current = model.state_dict()
    problems = []
    missing, unexpected = sorted(set(current) - set(saved)), sorted(set(saved) - set(current))
    if missing:
        problems.append(f"the model has parameters the checkpoint lacks: "
                        f"{', '.join(prefix + n for n in missing)}")
    if unexpected:
        problems.append(f"the checkpoint has parameters this model lacks: "
                        f"{', '.join(prefix + n for n in unexpected)}")
    for name in sorted(set(current) & set(saved)):
        a, c = saved[name], current[name]
        if a.shape != c.shape or a.dtype != c.dtype:
            problems.append(f"{prefix}{name}: the checkpoint's is {a.shape} {a.dtype}, the "
                            f"model's {c.shape} {c.dtype}")
    return problems


# ---- random streams ------------------------------------------------------------------------------
def _is_stream(v) -> bool:
    return isinstance(v, np.random.Generator | np.random.RandomState)


def _code_names(code: types.CodeType) -> set[str]:
    """The global names a function's code (its nested lambdas and functions included) reads."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


def _held_streams(obj, name: str, add: Callable[[str, object], None], depth: int,
                  visited: set[int]) -> None:
    """Add the generators `obj` holds, a few references deep (Note [checkpoints])."""
    if _is_stream(obj):
        add(name, obj)
        return
    if (depth > 4 or id(obj) in visited or obj is None
            or isinstance(obj, Module | type | types.ModuleType | np.ndarray | str | bytes | int
                          | float | complex)):
        return  # a Module's generators are found by walking the model
    visited.add(id(obj))
    children: list[tuple[str, object]] = []
    if isinstance(obj, functools.partial):
        children = [(f"{name}.func", obj.func)]
        children += [(f"{name}.args[{i}]", a) for i, a in enumerate(obj.args)]
        children += [(f"{name}.{k}", v) for k, v in obj.keywords.items()]
    elif isinstance(obj, types.MethodType):
        children = [(f"{name}.__self__", obj.__self__), (name, obj.__func__)]
    elif isinstance(obj, types.FunctionType):
        code = obj.__code__
        for var, cell in zip(code.co_freevars, obj.__closure__ or (), strict=True):
            try:
                children.append((f"{name}.{var}", cell.cell_contents))
            except ValueError:  # an empty cell
                pass
        defaults = obj.__defaults__ or ()
        params = code.co_varnames[code.co_argcount - len(defaults):code.co_argcount]
        children += [(f"{name}.{p}", v) for p, v in zip(params, defaults, strict=True)]
        children += [(f"{name}.{p}", v) for p, v in (obj.__kwdefaults__ or {}).items()]
        children += [(f"{name}.{var}", obj.__globals__[var]) for var in sorted(_code_names(code))
                     if _is_stream(obj.__globals__.get(var))]
    elif isinstance(obj, list | tuple):
        children = [(f"{name}[{i}]", v) for i, v in enumerate(obj[:64])]
    elif callable(obj) and hasattr(obj, "__dict__"):  # a callable object: its attributes
        children = [(f"{name}.{k}", v) for k, v in vars(obj).items()]
    for child_name, child in children:
        _held_streams(child, child_name, add, depth + 1, visited)


def random_streams(model: Module, rng: np.random.Generator,
                   callables: Mapping[str, object]) -> dict[str, _Stream]:
    """Every random stream a `fit` run can draw from, by a name stable across processes (Note
    [checkpoints]); a generator reachable in several ways is listed once, under its first name."""
    found: dict[str, _Stream] = {}
    seen: set[int] = set()

    def add(name: str, obj) -> None:
        if id(obj) not in seen:
            seen.add(id(obj))
            found[name] = obj

    add("fit.rng", rng)
    for path, mod in model.named_modules():
        for attr, v in vars(mod).items():
            _held_streams(v, f"model.{path}.{attr}" if path else f"model.{attr}", add, 3, set())
    for name, obj in callables.items():
        _held_streams(obj, name, add, 0, set())
    found["numpy.random"] = np.random  # NumPy's global legacy generator
    found["random"] = random  # Python's
    return found


def _get_state(obj: _Stream):
    if isinstance(obj, np.random.Generator):
        return obj.bit_generator.state
    if isinstance(obj, np.random.RandomState):
        return obj.get_state(legacy=False)
    if obj is np.random:
        return np.random.get_state(legacy=False)
    return random.getstate()


def _set_state(obj, state) -> None:
    if isinstance(obj, np.random.Generator):
        obj.bit_generator.state = state
    elif isinstance(obj, np.random.RandomState):
        obj.set_state(state)
    elif obj is np.random:
        np.random.set_state(state)
    elif obj is random or isinstance(obj, random.Random):
        version, internal, gauss = state
        obj.setstate((version, tuple(internal), gauss))


def _scratch(obj: _Stream):
    """A fresh stream of the same kind, to try a saved state on before touching the real one."""
    if isinstance(obj, np.random.Generator):
        return np.random.Generator(type(obj.bit_generator)())
    if isinstance(obj, np.random.RandomState) or obj is np.random:
        return np.random.RandomState()
    return random.Random()


def _to_json(v):
    if isinstance(v, dict):
        return {str(k): _to_json(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_to_json(x) for x in v]
    if isinstance(v, np.ndarray):
        return {"__ndarray__": v.dtype.str, "data": v.tolist()}
    return v.item() if isinstance(v, np.generic) else v


def _from_json(v):
    if isinstance(v, dict):
        if "__ndarray__" in v:
            return np.array(v["data"], dtype=np.dtype(v["__ndarray__"]))
        return {k: _from_json(x) for k, x in v.items()}
    return [_from_json(x) for x in v] if isinstance(v, list) else v


def stream_states(streams: Mapping[str, _Stream]) -> dict[str, np.ndarray]:
    """``rng/<name>`` → the stream's state as JSON text in a uint8 array (exact: JSON keeps
    integers of any size and floats by their shortest round-tripping repr)."""
    return {f"rng/{name}": np.frombuffer(json.dumps(_to_json(_get_state(obj))).encode(), np.uint8)
            for name, obj in streams.items()}


def checked_streams(streams: Mapping[str, _Stream], arrays: Mapping[str, np.ndarray],
                    problems: list[str]) -> Callable[[], None]:
    """Check the saved ``rng/*`` states against `streams` (the same names; each state accepted
    by a fresh stream of its kind), adding what is wrong to `problems`; returns the function that
    restores them all, to be called once everything else is checked too."""
    saved = {k.removeprefix("rng/"): v for k, v in arrays.items() if k.startswith("rng/")}
    missing, unexpected = sorted(set(streams) - set(saved)), sorted(set(saved) - set(streams))
    if missing:
        problems.append(f"random streams this run draws from but the checkpoint lacks: "
                        f"{', '.join(missing)}")
    if unexpected:
        problems.append(f"random streams in the checkpoint that this run does not have: "
                        f"{', '.join(unexpected)} (pass the same model, rng, augment and "
                        "callables as the run that wrote it)")
    states = {}
    for name in sorted(set(streams) & set(saved)):
        try:
            state = _from_json(json.loads(np.asarray(saved[name], np.uint8).tobytes().decode()))
            _set_state(_scratch(streams[name]), state)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
            problems.append(f"rng/{name}: not a state of this {type(streams[name]).__name__} ({e})")
        else:
            states[name] = state

    def restore() -> None:
        for name, state in states.items():
            _set_state(streams[name], state)

    return restore

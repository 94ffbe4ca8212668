"""The training workflow: `fit` (mini-batch training with validation, early stopping, hooks),
`Trainer`, `predict` and `predict_class`; `History` (what fit returns, nn/history.py) and the
data checks (nn/fit_data.py) live beside it and are re-exported here.

>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((200, 8)).astype(np.float32); y = (x[:, 0] > 0).astype(np.int64)
>>> model = nn.ResidualMLP(8, 16, 2, 2, rng=0)
>>> history = nn.fit(model, x, y, epochs=5, batch_size=32, val_split=0.1, patience=5, rng=0,
...                  quiet=True)
>>> len(history.loss)                     # print(history): one row per epoch, the best marked
5
>>> nn.predict_class(model, x[:4]).shape  # argmax_j m_j(x; θ*)
(4,)

The loop is the one a user would write (PyTorch's): ``model.train()``; for each shuffled batch,
``loss = loss_fn(model(x_b), y_b) (+ regularization)``, ``loss.backward()``, ``optimizer.step()``,
then the constraint hooks; after each epoch ``model.eval()`` and the validation set under
``ag.no_grad()``. Inputs are cast to the dtype of the model's parameters, so a float64 model
trains in float64 and a float32 one in float32 whatever dtype the data arrive in.

``fit(..., checkpoint=DIR)`` writes everything a run depends on to ``DIR/checkpoint.npz`` after
every epoch, and ``resume=True`` continues from it bit for bit (nn/checkpoint.py, Note
[checkpoints] there); Ctrl-C saves the last completed epoch and returns (Note [Ctrl-C]).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import autograd_core as ag

from . import distributed as dist
from . import serialization
from .checkpoint import (
    RunState,
    checkpoint_file,
    checkpoint_folder,
    first_snapshot,
    random_streams,
    restore_run,
    saved_split,
    snapshot_run,
)
from .fit_data import _as_inputs, _as_targets, _batches, _check_int, _labels_of, _non_finite
from .history import History, _fmt_epoch, _Progress
from .history import _fmt_seconds as _fmt_seconds  # re-exported: tests import it from here
from .losses import cross_entropy, mse_loss, tikhonov
from .module import Module, _values

__all__ = ["fit", "Trainer", "History", "predict", "predict_class"]

LossFn = Callable[[ag.Tensor, Any], ag.Tensor]
_LOSSES: dict[str, LossFn] = {"cross_entropy": cross_entropy, "mse": mse_loss}


class _AllStop(Exception):
    """Every rank of a distributed fit agreed, at the same step boundary, to stop (Ctrl-C on at
    least one of them: Note [Ctrl-C])."""


# ---- helpers -------------------------------------------------------------------------------------
def _param_dtype(model: Module) -> np.dtype:
    """The dtype of the model's parameters (the first one's), or the engine default."""
    for p in model.parameters():
        return p.data.dtype
    return ag.get_default_dtype()


def _resolve_loss(loss: str | LossFn) -> tuple[LossFn, str]:
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"fit: unknown loss {loss!r}; use one of {', '.join(_LOSSES)} "
                             "or a callable loss(u, y) -> scalar Tensor")
        return _LOSSES[loss], loss
    if not callable(loss):
        raise TypeError(f"fit: loss must be a name or a callable, got {type(loss).__name__}")
    return loss, getattr(loss, "__name__", "loss")


# ---- Trainer -------------------------------------------------------------------------------------
class Trainer:
    """A model with its loss, optimizer, constraints and regularization; `fit` trains it.

    The optimizer (and so Adam's moments) lives as long as the Trainer: calling ``fit`` twice
    continues training (a checkpoint written by the second call counts its epochs from 1).
    Arguments are those of `fit`.
    """

    def __init__(self, model: Module, *, loss: str | LossFn = "cross_entropy", optimizer=None,
                 constraints: Sequence[Callable[[], Any]] = (),
                 regularization: float | Callable[[], Any] | None = None) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"fit: model must be an nn.Module, got {type(model).__name__}")
        self.model = model
        self.loss_fn, self.loss_name = _resolve_loss(loss)
        self.classification = self.loss_name == "cross_entropy"
        if optimizer is None:
            from .optim import Adam  # the default: Adam(lr=1e-3), PyTorch's default rate
            optimizer = Adam(model.parameters(), lr=1e-3)
        if not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"fit: optimizer must have a step() method (e.g. nn.optim.Adam), "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        constraints = [constraints] if callable(constraints) else list(constraints)
        for i, c in enumerate(constraints):
            if not callable(c):
                raise TypeError(f"fit: constraints[{i}] is a {type(c).__name__}, not a callable "
                                "(e.g. lambda: nn.constrain_spectral_norm(model.parameters()))")
        self.constraints = constraints
        if regularization is None or callable(regularization):
            self.regularization = regularization
        else:
            lam = float(regularization)  # tikhonov on the weight matrices, not the biases
            weights = [p for p in model.parameters() if p.ndim >= 2]
            self.regularization = lambda: tikhonov(weights, lam)
        self.dtype = _param_dtype(model)
        self._jitted = None  # fit(jit=True): the traced forward and backward

    # -- one pass over the data -------------------------------------------------------------------
    def _train_epoch(self, x, y, labels, batch_size, order, rng, augment, progress,
                     epoch, rows, distributed=False,
                     interrupts: dist.Interrupts | None = None) -> tuple[float, float | None]:
        """One pass; `rows[i]` is the row of the data passed to fit that x[i] came from.
        Distributed: this rank's shard of every batch, gradients averaged over the ranks
        (Note [data parallelism] in distributed.py), the epoch's metrics summed over them.
        With `interrupts` (several ranks), a Ctrl-C on any rank stops every rank at the same
        step boundary by raising _AllStop there (Note [Ctrl-C])."""
        model, opt = self.model, self.optimizer
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for batch, idx in enumerate(_batches(len(x), batch_size, order), start=1):
            if distributed:
                idx = dist.shard(idx)
            out = None
            try:  # this rank's own work: a KeyboardInterrupt here is noted, not raised
                if interrupts is None or not interrupts.requested:
                    model.zero_grad()
                    opt.zero_grad()
                    # a short last batch may leave a rank no samples: it still takes the step
                    if len(idx):
                        out = self._forward_backward(x, y, idx, rng, augment, epoch, batch, rows)
            except KeyboardInterrupt:
                if interrupts is None:
                    raise
                interrupts.requested = True
            if distributed:
                stop = interrupts is not None and interrupts.requested
                if dist.allreduce_gradients(model.parameters(), weight=len(idx), stop=stop):
                    raise _AllStop
            opt.step()
            try:
                for c in self.constraints:
                    c()
                if out is not None:
                    value, u = out
                    total_loss += value * len(idx)
                    seen += len(idx)
                    if labels is not None:
                        correct += int(np.sum(np.argmax(_values(u), axis=-1) == labels[idx]))
                    progress.batch(epoch, total_loss / seen)
            except KeyboardInterrupt:  # after the step: the next collective carries it
                if interrupts is None:
                    raise
                interrupts.requested = True
        if distributed:
            stop = float(interrupts is not None and interrupts.requested)
            total_loss, correct, seen, stop = dist.allreduce_sum([total_loss, correct, seen, stop])
            if stop:
                raise _AllStop
        return total_loss / seen, (correct / seen if labels is not None else None)

    def _forward_backward(self, x, y, idx, rng, augment, epoch, batch,
                          rows) -> tuple[float, ag.Tensor]:
        """The batch ``x[idx]``'s loss (its value and the model's output), backpropagated."""
        xb, yb = x[idx], y[idx]
        if augment is not None:
            xb = _as_inputs(augment(xb, rng), self.dtype, "fit: augment(x, rng)")
            if xb.shape[0] != len(idx):
                raise ValueError(f"fit: augment returned {xb.shape[0]} samples for a batch "
                                 f"of {len(idx)}")
            problem = _non_finite("the batch that augment(x, rng) returned", xb, rows[idx],
                                  "x")
            if problem is not None:
                raise ValueError(f"fit: in epoch {epoch}, batch {batch}, {problem}, where x "
                                 "itself is finite: augment must keep the data finite")
        if self._jitted is not None:  # the finite-loss check comes after backward: before the step
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # (it says why)
                value, total, u = self._jitted(xb, yb)
            if not math.isfinite(float(value)) or not math.isfinite(float(total)):
                self._non_finite_loss(float(value), epoch, batch)
            return float(value), u
        u = self.model(ag.tensor(xb))
        batch_loss = self.loss_fn(u, yb)
        objective = batch_loss
        if self.regularization is not None:
            objective = objective + self.regularization()
        value = float(batch_loss)
        if not math.isfinite(value) or not math.isfinite(float(objective)):
            self._non_finite_loss(value, epoch, batch)
        objective.backward()
        return value, u

    def _loss_backward(self, xb, yb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch's loss, objective and the model's output (values), backpropagated: what
        ``fit(jit=True)`` traces once and replays (Note [tracing] in autograd_core/tracing)."""
        u = self.model(ag.tensor(xb))
        batch_loss = self.loss_fn(u, yb)
        objective = batch_loss if self.regularization is None else batch_loss + self.regularization()
        objective.backward()
        return batch_loss.data, objective.data, u.data

    def _non_finite_loss(self, value: float, epoch: int, batch: int) -> None:
        """Raise the error that says why this batch's loss is not finite (its data are finite:
        `fit` checked them): the parameters hold NaN/Inf, else the step itself overflowed."""
        at = f"in epoch {epoch}, batch {batch}"
        bad = [n for n, p in self.model.named_parameters() if not np.all(np.isfinite(p.data))]
        if bad:
            raise FloatingPointError(
                f"fit: the training loss became {value} {at}: the parameters {', '.join(bad[:4])} "
                "hold NaN/Inf after the previous step; lower the learning rate, or clip the "
                "gradients (nn.clip_grad_norm)")
        raise FloatingPointError(
            f"fit: the training loss became {value} {at} (the data and the parameters are "
            "finite); lower the learning rate, or clip the gradients, and look for the op that "
            "overflows with ag.detect_anomaly()")

    def _check_finite(self, who: str, parts: list[tuple[str, np.ndarray, str]], rows: np.ndarray,
                      order: np.ndarray | None = None, batch_size: int = 0,
                      epoch: int = 1) -> None:
        """ValueError naming the first NaN/Inf in the data `parts` (name, array, source)."""
        for name, a, source in parts:
            problem = _non_finite(name, a, rows, source, order, batch_size, epoch)
            if problem is not None:
                raise ValueError(f"{who}: {problem}; the data must be finite: remove or impute "
                                 f"those values (np.isfinite({source}).all(axis=0) marks the clean "
                                 "features)")

    def evaluate(self, x, y, batch_size: int = 256, *, who: str = "evaluate",
                 rows: np.ndarray | None = None,
                 source: tuple[str, str] = ("x", "y")) -> tuple[float, float | None]:
        """``(loss, accuracy)`` on ``(x, y)`` in eval mode under ``ag.no_grad()`` (accuracy is
        None unless this is classification). The model's train/eval mode is restored. NaN/Inf
        in x or y raises ValueError naming the sample (its row in x, or ``rows[i]`` of the
        arrays named `source`) and the feature."""
        x = _as_inputs(x, self.dtype, "evaluate")
        y = _as_targets(y, self.dtype)
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"evaluate: x has {len(x)} samples, y has {len(y)} (need equal, > 0)")
        labels = _labels_of(y, self.classification)
        rows = np.arange(len(x)) if rows is None else rows
        self._check_finite(who, [("the input", x, source[0]), ("the target", y, source[1])], rows)
        was_training = self.model.training
        self.model.eval()
        total, correct = 0.0, 0
        try:
            with ag.no_grad():
                for idx in _batches(len(x), batch_size, np.arange(len(x))):
                    u = self.model(ag.tensor(x[idx]))
                    total += float(self.loss_fn(u, y[idx])) * len(idx)
                    if labels is not None:
                        correct += int(np.sum(np.argmax(_values(u), axis=-1) == labels[idx]))
        finally:
            self.model.train(was_training)
        return total / len(x), (correct / len(x) if labels is not None else None)

    # -- the loop ---------------------------------------------------------------------------------
    def fit(self, x, y, *, epochs: int = 10, batch_size: int = 32,
            val: tuple[Any, Any] | None = None, val_split: float = 0.0, shuffle: bool = True,
            rng: np.random.Generator | int | None = None, patience: int | None = None,
            min_delta: float = 0.0, restore_best: bool = True,
            augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
            lr_schedule: Callable[[int], float] | None = None,
            checkpoint: str | os.PathLike | None = None, resume: bool = False,
            progress: bool = True, quiet: bool = False,
            stream: TextIO | None = None, distributed: bool = False, jit: bool = False) -> History:
        """Train for `epochs` passes over ``(x, y)``; see `fit`."""
        args = {k: v for k, v in locals().items() if k != "self"}  # every argument, passed on
        if not distributed:
            return self._fit(**args)
        with dist.abort_on_error():  # a rank that raises stops them all (no partner hangs)
            if not dist.is_distributed():
                return self._fit(**args)
            with dist.deferred_interrupts() as interrupts:  # Ctrl-C: Note [Ctrl-C]
                return self._fit(**args, interrupts=interrupts)

    def _fit(self, x, y, *, epochs, batch_size, val, val_split, shuffle, rng, patience, min_delta,
             restore_best, augment, lr_schedule, checkpoint, resume, progress, quiet, stream,
             distributed, jit, interrupts: dist.Interrupts | None = None) -> History:
        writer = not distributed or dist.rank() == 0  # who prints and writes files
        self._jitted = ag.jit(self._loss_backward) if jit else None
        epochs = _check_int(epochs, "epochs", 0)
        batch_size = _check_int(batch_size, "batch_size", 1)
        if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
            raise TypeError(f"fit: rng must be a np.random.Generator, an int seed or None, got "
                            f"{type(rng).__name__}")
        rng = np.random.default_rng(rng)
        if distributed:  # one batch order and val_split on every rank: rank 0's
            rng.bit_generator.state = dist.broadcast_object(rng.bit_generator.state)
        folder = checkpoint_folder(checkpoint, resume, self.optimizer)
        saved = serialization.read_checkpoint(folder) if resume else None
        x = _as_inputs(x, self.dtype, "fit")
        y = _as_targets(y, self.dtype)
        if len(x) != len(y):
            raise ValueError(f"fit: x has {len(x)} samples but y has {len(y)}")
        data_shape = {"fit/n_samples": len(x), "fit/x_shape": np.array(x.shape[1:], np.int64),
                      "fit/y_shape": np.array(y.shape[1:], np.int64)}
        # the rows of the arrays passed in that x, y (and x_val, y_val) hold: error messages
        rows, val_rows, val_source, split = np.arange(len(x)), None, ("x_val", "y_val"), None
        if val is not None:
            if val_split:
                raise ValueError("fit: pass either val=(x_val, y_val) or val_split, not both")
            try:
                x_val, y_val = val
            except (TypeError, ValueError):
                raise TypeError("fit: val must be a pair (x_val, y_val)") from None
            x_val, y_val = _as_inputs(x_val, self.dtype, "fit: val"), _as_targets(y_val, self.dtype)
            if len(x_val) != len(y_val) or len(x_val) == 0:
                raise ValueError(f"fit: val has {len(x_val)} inputs and {len(y_val)} targets "
                                 "(need equal, > 0)")
        elif val_split:
            if not 0.0 < float(val_split) < 1.0:
                raise ValueError(f"fit: val_split must be in (0, 1), got {val_split!r}")
            n_val = max(1, round(len(x) * float(val_split)))
            if n_val >= len(x):
                raise ValueError(f"fit: val_split={val_split} leaves no training samples "
                                 f"of {len(x)}")
            # a resumed run holds out the rows the interrupted one held out (rng may be None)
            perm = saved_split(saved, len(x), folder) if saved is not None else None
            perm = rng.permutation(len(x)) if perm is None else perm
            split = perm
            x_val, y_val = x[perm[:n_val]], y[perm[:n_val]]
            x, y = x[perm[n_val:]], y[perm[n_val:]]
            rows, val_rows, val_source = perm[n_val:], perm[:n_val], ("x", "y")
        else:
            x_val = y_val = None
        if len(x) == 0:
            raise ValueError("fit: no training samples")
        if patience is not None:
            patience = _check_int(patience, "patience", 1)
            if x_val is None:
                raise ValueError("fit: early stopping (patience) needs a validation set: pass "
                                 "val=(x_val, y_val) or val_split")
        if lr_schedule is not None and not hasattr(self.optimizer, "lr"):
            raise TypeError(f"fit: lr_schedule needs an optimizer with an lr attribute, got "
                            f"{type(self.optimizer).__name__}")
        labels = _labels_of(y, self.classification)
        if x_val is not None:  # before any training (the training data: when epoch 1's order is known)
            self._check_finite("fit: validation", [("the input", x_val, val_source[0]),
                                                   ("the target", y_val, val_source[1])],
                               np.arange(len(x_val)) if val_rows is None else val_rows)

        callables = {"augment": augment, "lr_schedule": lr_schedule, "loss": self.loss_fn,
                     "regularization": self.regularization,
                     **{f"constraints[{i}]": c for i, c in enumerate(self.constraints)}}
        streams = random_streams(self.model, rng, callables)
        run = RunState(streams=streams, data=data_shape, split=split,
                       keep_best=patience is not None and restore_best, history=History())
        if saved is not None:
            restore_run(self.model, self.optimizer, saved, run, checkpoint_file(folder))
        if distributed:
            dist.broadcast_parameters(self.model)
        n_batches = -(-len(x) // batch_size)
        stream = sys.stderr if stream is None else stream
        progress_ = _Progress(progress and not quiet and writer, epochs, n_batches, stream, run.epoch)
        if resume:
            progress_.message(f"fit: no checkpoint in {folder}: starting at epoch 1" if saved is None
                              else f"fit: resuming from {checkpoint_file(folder)} "
                                   f"after epoch {run.epoch}")
        history = run.history
        # what Ctrl-C saves and returns to: the state after the last completed epoch (Note [Ctrl-C])
        snapshot = first_snapshot(self.model, self.optimizer, run, required=folder is not None)
        written = run.epoch if saved is not None else None
        epoch = first = run.epoch + 1
        try:
            for epoch in range(first, epochs + 1):
                if history.stopped_early:
                    break
                t0 = time.perf_counter()
                if lr_schedule is not None:
                    self.optimizer.lr = float(lr_schedule(epoch - 1))
                if hasattr(self.optimizer, "lr"):
                    history.lr.append(float(self.optimizer.lr))
                order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
                batch_rng = rng  # augment's generator; each rank's own when distributed
                if distributed:
                    batch_rng = dist.per_rank_streams(streams, rng, epoch, ("model.", "augment"))
                if epoch == first:  # once: name the row, the feature and the batch
                    self._check_finite("fit", [("the input x", x, "x"), ("the target y", y, "y")],
                                       rows, order, batch_size, epoch)
                loss, acc = self._train_epoch(x, y, labels, batch_size, order, batch_rng, augment,
                                              progress_, epoch, rows, distributed, interrupts)
                history.loss.append(loss)
                metrics = {"loss": loss}
                if acc is not None:
                    history.accuracy.append(acc)
                    metrics["acc"] = acc
                if x_val is not None:
                    val_loss, val_acc = self.evaluate(x_val, y_val, max(batch_size, 256),
                                                      who="fit: validation", rows=val_rows,
                                                      source=val_source)
                    history.val_loss.append(val_loss)
                    metrics["val_loss"] = val_loss
                    if val_acc is not None:
                        history.val_accuracy.append(val_acc)
                        metrics["val_acc"] = val_acc
                    if val_loss < run.best_loss - min_delta:
                        run.best_loss, run.wait = val_loss, 0
                        history.best_epoch = epoch - 1
                        if run.keep_best:
                            run.best_state = self.model.state_dict()
                    else:
                        run.wait += 1
                history.epoch_time.append(time.perf_counter() - t0)
                history.stopped_early = patience is not None and run.wait >= patience
                run.epoch = epoch
                if snapshot is not None:
                    snapshot = snapshot_run(self.model, self.optimizer, run)
                if folder is not None:
                    if writer:
                        serialization.write_checkpoint(folder, snapshot)
                    written = epoch
                progress_.epoch(_fmt_epoch(epoch, epochs, metrics, history.epoch_time[-1]),
                                metrics)
                if history.stopped_early:
                    progress_.message(f"early stopping after epoch {epoch}: val_loss has not "
                                      f"improved for {patience} epochs")
        except (KeyboardInterrupt, _AllStop) as e:
            # an optimizer without state_dict(): nothing exact to save. Several ranks: only a stop
            # they all agreed on (_AllStop) is clean; a KeyboardInterrupt still raised here (a
            # second Ctrl-C) goes to abort_on_error, which stops them all (Note [Ctrl-C])
            if snapshot is None or isinstance(e, KeyboardInterrupt) and interrupts is not None:
                if isinstance(e, _AllStop):
                    raise KeyboardInterrupt from None
                raise
            progress_.close()
            return self._interrupted(snapshot, run, folder, written, epoch, stream, writer,
                                     interrupts is not None)
        finally:
            progress_.close()
        if interrupts is not None and interrupts.requested:
            progress_.message("fit: Ctrl-C came after the last step; the run is complete")
        if run.best_state is not None and history.best_epoch != history.epochs - 1:
            self.model.load_state_dict(run.best_state)
            history.restored_best = True
            progress_.message(f"restored the weights of epoch {history.best_epoch + 1} (val_loss "
                              f"{run.best_loss:.4f})")
        return history

    # -- Ctrl-C ------------------------------------------------------------------------------------
    # Note [Ctrl-C]
    # Ctrl-C can land anywhere: inside an optimizer step (some parameters updated, others not),
    # after augment drew from rng but before the step. So the exact state fit can save is the one
    # at the end of the last completed epoch, not the current one: fit keeps it in memory
    # (`snapshot`, copies taken after every epoch, the same arrays the checkpoint file gets) and on
    # KeyboardInterrupt writes it unless it is already on disk, then restores it into the model,
    # optimizer and random streams, so memory and disk agree. It returns rather than re-raises
    # (as PyTorch Lightning saves and stops): a script or notebook goes on with the model of the
    # last completed epoch and a History that says it was interrupted.
    #
    # Several ranks (fit(..., distributed=True) under mpiexec -n P, P > 1): mpiexec forwards SIGINT
    # to every rank, but each gets it at its own point, and a rank that stopped on its own would
    # leave the others waiting in the next collective. So every rank must stop at the same step
    # boundary. While fit runs, SIGINT only sets a flag (dist.deferred_interrupts), and a
    # KeyboardInterrupt raised in a rank's own work (forward, backward, augment, the constraint
    # hooks) is caught and sets it too. The flag rides as one more element in the step's gradient
    # Allreduce (and in the epoch's metrics sum), so stopping costs no extra collective: when the
    # sum is non-zero every rank skips the step and raises _AllStop at the same boundary; rank 0
    # writes the checkpoint of the last completed epoch and says how to resume, every rank goes
    # back to that epoch in memory and returns its History with interrupted=True. Limits: a Ctrl-C
    # after the last step's collective lets the run complete (rank 0 says so); a second Ctrl-C
    # raises KeyboardInterrupt as usual, which aborts every rank (abort_on_error: the way out of
    # a hang, the last checkpoint intact); outside the main thread no handler can be installed,
    # so a real SIGINT there raises inside whatever runs, a collective included, and aborts too.
    def _interrupted(self, snapshot: dict[str, np.ndarray], run: RunState, folder: Path | None,
                     written: int | None, epoch: int, stream: TextIO, writer: bool = True,
                     together: bool = False) -> History:
        """Ctrl-C: save the last completed epoch (unless it is on disk already), go back to it
        in memory too, say how to resume, and return its history (Note [Ctrl-C]). `together`:
        every rank is here at the same step boundary; only the `writer` (rank 0) writes and
        prints, the others learn its folder."""
        done = int(snapshot["epoch"])
        if folder is None and writer:
            folder = Path(tempfile.mkdtemp(prefix="nn-fit-interrupted-"))
        if written != done and writer:
            serialization.write_checkpoint(folder, snapshot)
        if together:  # rank 0's folder, and after its write: the file is there when fit returns
            folder = Path(dist.broadcast_object(str(folder)))
        path = checkpoint_file(folder)
        restore_run(self.model, self.optimizer, snapshot, run, path)
        history = run.history
        history.interrupted, history.checkpoint = True, str(folder)
        if writer:
            print(f"fit: interrupted (Ctrl-C) in epoch {epoch}; the model, the optimizer and the "
                  f"random state after epoch {done} are in {path} and in memory. To continue: "
                  f"nn.fit(..., checkpoint={str(folder)!r}, resume=True) with the same arguments.",
                  file=stream, flush=True)
        return history


def fit(model: Module, x, y, *, loss: str | LossFn = "cross_entropy", optimizer=None,
        epochs: int = 10, batch_size: int = 32, val: tuple[Any, Any] | None = None,
        val_split: float = 0.0, shuffle: bool = True,
        rng: np.random.Generator | int | None = None, patience: int | None = None,
        min_delta: float = 0.0, restore_best: bool = True,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        lr_schedule: Callable[[int], float] | None = None,
        constraints: Sequence[Callable[[], Any]] = (),
        regularization: float | Callable[[], Any] | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False,
        progress: bool = True, quiet: bool = False, stream: TextIO | None = None,
        distributed: bool = False, jit: bool = False) -> History:
    """Train `model` on ``(x, y)`` with mini-batches; returns a `History`.

    - `loss`: ``"cross_entropy"`` (y integer labels ``(N,)`` or one-hot rows; accuracy is
      reported), ``"mse"`` (y of the output's shape), or a callable ``loss(u, y)`` → scalar Tensor.
    - `optimizer`: e.g. ``nn.optim.SGD(model.parameters(), lr=0.1)``; default
      ``nn.optim.Adam(model.parameters(), lr=1e-3)``.
    - Validation: ``val=(x_val, y_val)``, or ``val_split`` (a random fraction of x held out, drawn
      from `rng`). Evaluated after every epoch in eval mode under ``ag.no_grad()``.
    - `rng` (Generator or int seed) draws the split, the shuffling (``shuffle=True``: a new order
      every epoch) and is passed to `augment`: the same seed gives the same run (seed the model's
      own rng, e.g. Dropout's, too).
    - Early stopping: after `patience` epochs without val_loss falling by more than `min_delta`,
      training stops, and (``restore_best``) the weights of the best epoch are loaded back
      (``state_dict`` / ``load_state_dict``).
    - ``augment(x_batch, rng) -> x_batch``: applied to each training batch (a NumPy array),
      e.g. ``nn.data.shift_augment``.
    - ``lr_schedule(epoch) -> lr``: sets ``optimizer.lr`` at the start of each epoch (0-based),
      e.g. a cosine decay ``lambda e: 3e-3 * 0.5 * (1 + math.cos(math.pi * e / epochs))``.
    - `constraints`: callables run after every optimizer step, e.g.
      ``lambda: nn.constrain_spectral_norm(model.parameters())``.
    - `regularization`: a float λ adds ``nn.tikhonov(weights, λ)`` (matrices and kernels, not
      biases) to each batch's objective; a callable ``() -> scalar Tensor`` adds its value.
    - Progress: a tqdm bar when tqdm is installed and `stream` (default ``sys.stderr``) is a
      terminal, else one plain line per epoch; ``progress=False`` or ``quiet=True`` prints nothing.
    - ``checkpoint=DIR``: after every epoch, ``DIR/checkpoint.npz`` is rewritten atomically (a
      temporary file, fsync, ``os.replace``: if writing fails, the previous checkpoint is intact)
      with the model's `state_dict`, the optimizer's `state_dict`, the epoch, the history so far,
      early stopping's state (best val_loss, epochs waited, the best weights), the val_split rows,
      and the state of every random stream the run draws from: `rng`, the generators of the
      model's modules (Dropout, StochasticDepth), generators the callables passed here hold, NumPy's
      global ``np.random`` and Python's ``random`` (Note [checkpoints] in nn/checkpoint.py).
      ``.npz`` only, never pickle. The optimizer needs ``state_dict``/``load_state_dict``.
    - ``resume=True`` (with ``checkpoint=DIR``): when DIR holds a checkpoint, load all of it and
      continue after its last completed epoch, up to `epochs`; the returned History covers the
      whole run. Called with the same arguments, a run interrupted after epoch k and resumed
      (in a new process, with a freshly built model and optimizer) ends with the parameters of
      the uninterrupted run, bit for bit. With no checkpoint in DIR it starts fresh. A
      checkpoint that does not match (other parameter names, shapes or dtypes, another optimizer,
      other random streams, other data sizes) is refused with a ValueError naming each
      mismatch, and nothing is changed.
    - Ctrl-C (KeyboardInterrupt) during training does not lose the run (Note [Ctrl-C]): fit goes
      back to the state after the last completed epoch (the partial epoch is dropped), makes sure
      it is on disk (in DIR, or without ``checkpoint=`` in a new temporary folder), prints where
      and how to resume (``nn.fit(..., checkpoint=DIR, resume=True)``), and returns the History
      with ``interrupted=True`` and ``checkpoint=DIR`` instead of raising. The model then holds
      that epoch's weights (the best weights are not restored). A second Ctrl-C while it writes
      stops it, leaving the previous checkpoint intact.
    - ``distributed=True`` (run under ``mpiexec -n P``; nn/distributed.py, Note [data
      parallelism]): every rank passes the same data; each trains on its shard of every global
      batch of `batch_size` and the gradients are averaged over the ranks weighted by shard size,
      so P ranks take the steps of one process on the same batches (to rounding). The initial
      parameters and `rng` (the order, the val_split) are rank 0's; each rank reseeds its model's
      generators (Dropout, StochasticDepth) and those augment holds from a seed drawn from `rng`
      every epoch, and augment gets a generator of its own: per-rank streams, reproducible and
      resumable. Only rank 0 prints and writes the checkpoint; with ``resume=True`` every rank
      reads it (a shared folder). Ctrl-C (mpiexec passes it to every rank) stops every rank at
      the same step boundary and then behaves as in one process: rank 0 saves the last completed
      epoch and says how to resume, every rank returns its History with ``interrupted=True``
      (Note [Ctrl-C]); a second Ctrl-C aborts. Any other exception on any rank prints it and
      aborts every rank (``MPI.COMM_WORLD.Abort``): nothing hangs, the last checkpoint stays
      intact.
      Validation runs on every rank (the same numbers, so early stopping agrees). Without MPI it
      is one process, a world of size 1.

    - ``jit=True``: each batch's forward and backward run as an `ag.jit` program (docs/jit.md):
      traced on the first two batches of each batch size, then replayed; the same numbers as
      without it. The optimizer step and `constraints` run as usual.

    x is cast to the dtype of the model's parameters. Raises ValueError for mismatched lengths,
    early stopping without validation data, or bad sizes. When a batch's loss is not finite:
    ValueError if the batch's data hold NaN/Inf (naming the epoch, the batch, the row of x or y
    and the feature), else FloatingPointError (the parameters or a step diverged: lower the
    learning rate); a NaN/Inf in the validation data is a ValueError naming its row likewise.
    """
    trainer = Trainer(model, loss=loss, optimizer=optimizer, constraints=constraints,
                      regularization=regularization)
    return trainer.fit(x, y, epochs=epochs, batch_size=batch_size, val=val, val_split=val_split,
                       shuffle=shuffle, rng=rng, patience=patience, min_delta=min_delta,
                       restore_best=restore_best, augment=augment, lr_schedule=lr_schedule,
                       checkpoint=checkpoint, resume=resume, progress=progress, quiet=quiet,
                       stream=stream, distributed=distributed, jit=jit)


# ---- prediction ----------------------------------------------------------------------------------
def predict(model: Module, x, batch_size: int = 256) -> np.ndarray:
    """The model's outputs on x as a NumPy array, in eval mode under ``ag.no_grad()``, batch by
    batch. x is cast to the parameters' dtype; the model's train/eval mode is restored."""
    batch_size = _check_int(batch_size, "batch_size", 1)
    x = _as_inputs(x, _param_dtype(model), "predict")
    was_training = model.training
    model.eval()
    outs = []
    try:
        with ag.no_grad():
            for idx in _batches(len(x), batch_size, np.arange(len(x))):
                outs.append(_values(model(ag.tensor(x[idx]))))
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: x holds no samples")
    return np.concatenate(outs, axis=0)


def predict_class(model: Module, x, batch_size: int = 256) -> np.ndarray:
    """Predicted class labels ``argmax_j m_j(x; θ)`` (int64, shape ``(N,)``) for a classifier
    whose outputs are ``(N, K)`` scores (logits)."""
    scores = predict(model, x, batch_size)
    if scores.ndim != 2:
        raise ValueError(f"predict_class: expected (N, K) class scores, the model gave "
                         f"{scores.shape}")
    return np.argmax(scores, axis=1).astype(np.int64)

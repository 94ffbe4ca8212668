"""What `fit` reports: the per-epoch `History` and the progress bar (or one line per epoch).

nn/training.py builds these while it trains and re-exports them; this module imports nothing of
nn, so the reporting can be read (and changed) apart from the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["History"]


# ---- History -------------------------------------------------------------------------------------
@dataclass
class History:
    """What `fit` measured, one entry per epoch run.

    ``loss``: the training loss (the loss function only, without regularization), averaged over
    the epoch's batches as they were trained (train mode: dropout and augmentation on).
    ``val_loss``: the loss on the validation set in eval mode. ``accuracy`` / ``val_accuracy``:
    fractions of correct argmax predictions, for classification (integer labels or one-hot rows);
    empty otherwise, as are the ``val_*`` lists without a validation set. ``epoch_time``: seconds
    per epoch, validation included. ``lr``: the optimizer's learning rate in each epoch (when it has
    an ``lr``). ``best_epoch``: index (0-based) of the lowest val_loss, or
    None without validation. ``stopped_early``: early stopping ended the run;
    ``restored_best``: the weights of ``best_epoch`` were loaded back at the end.
    ``interrupted``: Ctrl-C stopped the run; the model holds the state after the last completed
    epoch, saved in the folder ``checkpoint`` (see `fit`).
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    restored_best: bool = False
    interrupted: bool = False
    checkpoint: str | None = None

    @property
    def epochs(self) -> int:
        """How many epochs ran."""
        return len(self.loss)

    @property
    def total_time(self) -> float:
        return float(sum(self.epoch_time))

    def __str__(self) -> str:
        cols: list[tuple[str, list[float], str]] = [("loss", self.loss, "{:.4f}")]
        if self.accuracy:
            cols.append(("acc", self.accuracy, "{:.4f}"))
        if self.val_loss:
            cols.append(("val_loss", self.val_loss, "{:.4f}"))
        if self.val_accuracy:
            cols.append(("val_acc", self.val_accuracy, "{:.4f}"))
        cols.append(("time (s)", self.epoch_time, "{:.3g}"))
        widths = [max(len(name), 8) for name, _, _ in cols]
        pairs = list(zip(cols, widths, strict=True))
        lines = ["epoch  " + "  ".join(f"{name:>{w}}" for (name, _, _), w in pairs)]
        for e in range(self.epochs):
            mark = "*" if e == self.best_epoch else " "
            cells = "  ".join(f"{fmt.format(vals[e]):>{w}}" for (_, vals, fmt), w in pairs)
            lines.append(f"{e + 1:>5}{mark} {cells}")
        if self.best_epoch is not None:
            best = self.val_loss[self.best_epoch]
            note = f"* best epoch {self.best_epoch + 1} (val_loss {best:.4f})"
            if self.stopped_early:
                note += "; stopped early"
            if self.restored_best:
                note += "; its weights were restored"
            lines.append(note)
        lines.append(f"{self.epochs} epochs in {_fmt_seconds(self.total_time)}")
        if self.interrupted:
            lines.append(f"interrupted; to continue: nn.fit(..., checkpoint={self.checkpoint!r}, "
                         "resume=True)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        best = "" if self.best_epoch is None else f", best_epoch={self.best_epoch}"
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        return f"History(epochs={self.epochs}{last}{best})"


# ---- progress ------------------------------------------------------------------------------------
class _Progress:
    """A tqdm bar when tqdm is installed and the stream is a terminal; otherwise one plain line
    per epoch (logs and CI stay readable); nothing when disabled."""

    def __init__(self, enabled: bool, epochs: int, n_batches: int, stream: TextIO,
                 done: int = 0) -> None:
        self.stream, self.epochs, self.bar = stream, epochs, None
        self.last_val = ""  # the previous epoch's validation metrics, kept on the bar
        self.mode = "off"
        if not enabled:
            return
        self.mode = "lines"
        isatty = getattr(stream, "isatty", None)
        if callable(isatty) and isatty():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.mode = "bar"
            self.bar = tqdm(total=epochs * n_batches, initial=min(done, epochs) * n_batches,
                            file=stream, unit="batch", leave=True, dynamic_ncols=True,
                            desc=self._desc(done + 1))

    def _desc(self, epoch: int) -> str:
        return f"epoch {epoch}/{self.epochs}"

    def batch(self, epoch: int, running_loss: float) -> None:
        if self.bar is not None:
            self.bar.set_description(self._desc(epoch), refresh=False)
            self.bar.set_postfix_str(f"loss {running_loss:.4f}{self.last_val}", refresh=False)
            self.bar.update(1)

    def epoch(self, line: str, metrics: dict[str, float]) -> None:
        if self.mode == "lines":
            print(line, file=self.stream, flush=True)
        elif self.bar is not None:
            self.last_val = "".join(f"  {k} {v:.4f}" for k, v in metrics.items()
                                    if k.startswith("val_"))
            self.bar.set_postfix_str("  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def message(self, text: str) -> None:
        if self.mode == "lines":
            print(text, file=self.stream, flush=True)
        elif self.bar is not None:
            self.bar.write(text, file=self.stream)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fmt_seconds(seconds: float) -> str:
    """A duration with three significant digits ("0.0432 s", "12.3 s"): short epochs of small
    models must not print as 0.0 s."""
    return f"{seconds:.3g} s" if seconds < 1000 else f"{seconds:.0f} s"


def _fmt_epoch(epoch: int, epochs: int, metrics: dict[str, float], seconds: float) -> str:
    width = len(str(epochs))
    parts = [f"epoch {epoch:>{width}}/{epochs}"]
    for name, v in metrics.items():
        parts.append(f"{name} {v:.4f}")
    parts.append(f"({_fmt_seconds(seconds)})")
    return "  ".join(parts)

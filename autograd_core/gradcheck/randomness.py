"""Frozen randomness: stochastic layers draw through `draw_random`, which, inside a check
(`frozen_randomness`), replays the first evaluation's draws, so the function being differenced is
deterministic (dropout masks stay fixed while differences are taken). Inside it, jitted functions
run eagerly: a program would have frozen one block's draws, or drawn afresh."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .. import tracing


class _Replay(threading.local):
    def __init__(self) -> None:
        self.depth = 0
        self.store: dict[int, list] = {}
        self.counts: dict[int, int] = {}


_replay = _Replay()


def draw_random(owner: object, sample: Callable[[], object]):
    """Draw randomness for a stochastic layer: ``sample()`` normally; inside a gradient check the
    k-th draw of `owner` in one evaluation replays the first evaluation's k-th draw, so the
    function being differenced is deterministic (dropout masks stay fixed)."""
    r = _replay
    if not r.depth:
        rec = tracing.active()
        return sample() if rec is None else rec.host(sample)  # drawn afresh at each jit replay
    key = id(owner)
    k = r.counts.get(key, 0)
    r.counts[key] = k + 1
    seen = r.store.setdefault(key, [])
    if k == len(seen):
        seen.append(sample())
    return seen[k]


class frozen_randomness:
    """Context manager: inside it, each `draw_random` owner's k-th draw in an evaluation replays
    the first one (gradient checks use it; wrap a check and your own passes in one block to see
    the same dropout masks in both)."""

    def __enter__(self) -> frozen_randomness:
        if not _replay.depth:
            _replay.store = {}
        _replay.depth += 1
        _new_evaluation()
        self._eager = tracing.eagerly()  # (a program would freeze or redraw them)
        self._eager.__enter__()
        return self

    def next_evaluation(self) -> None:
        """Start another evaluation of the function: draws replay from the first again."""
        _new_evaluation()

    def __exit__(self, *exc):
        self._eager.__exit__()
        _replay.depth -= 1


def _new_evaluation() -> None:
    _replay.counts = {}

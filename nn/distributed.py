"""Data-parallel training over MPI: ``mpiexec -n P python script.py`` with ``nn.fit(...,
distributed=True)``, or the pieces for a loop of one's own.

>>> nn.distributed.rank(), nn.distributed.world_size()   # one process without mpiexec
(0, 1)

Needs ``pip install 'autograd-core[mpi]'`` (mpi4py and the MPICH wheel: no root, no system MPI;
a system MPI with its own mpi4py works too). Without MPI, or when the script was not started by
``mpiexec``, one process is a world of size 1 and every function here is a no-op.

A loop of one's own (what ``fit(..., distributed=True)`` does, Note [data parallelism]):

    nn.distributed.broadcast_parameters(model)          # everyone starts from rank 0's weights
    for idx in batches:                                 # the same global batches on every rank
        mine = nn.distributed.shard(idx)                # this rank's part of the batch
        loss = nn.cross_entropy(model(x[mine]), y[mine])
        opt.zero_grad(); loss.backward()
        nn.distributed.allreduce_gradients(model.parameters(), weight=len(mine))
        opt.step()                                      # identical on every rank

Faults: an exception on one rank while the others wait in a collective would hang them (MPICH's
mpiexec does not kill a partner blocked in a collective when one rank exits). `abort_on_error`
prints the error with its rank and calls ``MPI.COMM_WORLD.Abort``, which stops every rank and makes
``mpiexec`` exit non-zero; ``fit(..., distributed=True)`` runs inside it. Ctrl-C is not such a
fault for fit: `deferred_interrupts` turns SIGINT into a flag that rides in the step's
Allreduce, so every rank stops cleanly at the same step (Note [Ctrl-C] in nn/training.py). For a whole script:
``mpiexec -n 2 python -m mpi4py script.py`` does the same for any uncaught exception.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import sys
import traceback
from collections.abc import Iterator

import numpy as np

import autograd_core as ag

from .module import rebind_buffer

__all__ = ["rank", "world_size", "broadcast_parameters", "allreduce_gradients", "shard",
           "allreduce_sum", "abort_on_error", "is_distributed", "deferred_interrupts"]

# Note [data parallelism]
# P ranks hold identical parameters and optimizers. Every rank draws the same global batch order
# (fit's rng is rank 0's, broadcast), takes its contiguous part of each global batch (`shard`:
# sizes differ by at most one; a rank may get none in a short last batch), computes the mean loss
# over its part and backpropagates. The global batch's gradient is the mean over all B samples,
# so each rank's mean gradient g_r over its n_r samples is weighted by its share:
#     g = Σ_r n_r g_r / Σ_r n_r,
# one Allreduce of a flat buffer per dtype (the weighted grads, the weight, and a flag per
# parameter saying whether that rank had a grad for it: a parameter no rank touched keeps
# grad None, so the optimizer skips it as it would in one process). Every rank then takes the
# same optimizer step on the same numbers, so parameters stay identical without being sent again.
# A term that does not depend on the batch (regularization) is added on every rank and survives
# the weighted mean unchanged. Result: P ranks with global batch B give the parameters of one
# process on batch B, up to the rounding of a different summation order (float64: ~1e-15
# relative per step; float32: ~1e-6).

# the variables launchers set in each process they start (MPICH/Hydra, Slurm's PMI, Open MPI, PMIx)
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")
_comm_cache: list = []  # [comm or None], filled on first use


def _launched_size() -> int | None:
    """The world size a launcher announced, 0 when it did not say, None when not launched."""
    if not any(v in os.environ for v in _LAUNCHER_VARS):
        return None
    for v in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if os.environ.get(v, "").isdigit():
            return int(os.environ[v])
    return 0


def _comm():
    """MPI.COMM_WORLD when this process runs under MPI, else None (a world of size 1). mpi4py is
    imported only under a launcher (or when the program imported it already), so a plain
    ``python`` run never initializes MPI."""
    if _comm_cache:
        return _comm_cache[0]
    comm = None
    size = _launched_size()
    if size is not None or "mpi4py.MPI" in sys.modules:
        try:
            from mpi4py import MPI
        except ImportError:
            if size is not None and size > 1:
                raise ImportError(
                    f"nn.distributed: this process was started by mpiexec as one of {size}, but "
                    "mpi4py is not installed: pip install 'autograd-core[mpi]'") from None
        else:
            comm = MPI.COMM_WORLD
    _comm_cache.append(comm)
    return comm


def rank() -> int:
    """This process's rank in the MPI world (0 without MPI)."""
    comm = _comm()
    return 0 if comm is None else comm.Get_rank()


def world_size() -> int:
    """The number of processes in the MPI world (1 without MPI)."""
    comm = _comm()
    return 1 if comm is None else comm.Get_size()


def is_distributed() -> bool:
    """True when more than one process trains together."""
    return world_size() > 1


def shard(idx: np.ndarray, rank_: int | None = None, size: int | None = None) -> np.ndarray:
    """This rank's contiguous part of the global batch `idx` (``np.array_split``: the parts
    differ in size by at most one, the first ranks get the larger ones; empty when the batch has
    fewer samples than there are ranks)."""
    r = rank() if rank_ is None else rank_
    p = world_size() if size is None else size
    return np.array_split(np.asarray(idx), p)[r]


def _params_of(model_or_params, who: str) -> list[ag.Tensor]:
    from .optim import _param_list
    return _param_list(model_or_params, who, allow_empty=True)


def _by_dtype(arrays: list[np.ndarray]) -> dict[np.dtype, list[int]]:
    groups: dict[np.dtype, list[int]] = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    return groups


def broadcast_parameters(model_or_params, root: int = 0) -> None:
    """Overwrite every parameter (and, for a Module, every buffer) with `root`'s values: one
    Bcast of a flat buffer per dtype. A no-op in a world of size 1. Every rank must pass a model
    of the same structure (shapes and dtypes are checked, ValueError naming the first mismatch)."""
    comm = _comm()
    if comm is None or comm.Get_size() == 1:
        return
    params = _params_of(model_or_params, "broadcast_parameters")
    targets: list[tuple[object, str, np.ndarray]] = [(p, "data", p.data) for p in params]
    if hasattr(model_or_params, "named_modules"):
        for _, mod in model_or_params.named_modules():
            for name in mod._buffers:
                targets.append((mod, name, np.asarray(getattr(mod, name))))
    layout = [(a.shape, a.dtype.str) for _, _, a in targets]
    root_layout = comm.bcast(layout, root=root)
    if root_layout != layout:
        diff = next((i for i, (a, b) in enumerate(zip(layout, root_layout, strict=False)) if a != b),
                    min(len(layout), len(root_layout)))
        raise ValueError(f"broadcast_parameters: rank {comm.Get_rank()} holds {len(layout)} arrays, "
                         f"rank {root} {len(root_layout)}; the first difference is array {diff}")
    arrays = [a for _, _, a in targets]
    for dtype, members in _by_dtype(arrays).items():
        buf = np.concatenate([arrays[i].ravel() for i in members]) if members else np.empty(0, dtype)
        comm.Bcast(buf, root=root)
        offset = 0
        for i in members:
            obj, attr, a = targets[i]
            value = buf[offset:offset + a.size].reshape(a.shape).copy()
            offset += a.size
            if attr == "data":
                obj.data = value
            else:
                rebind_buffer(obj, attr, value)


def allreduce_gradients(params, weight: float | None = None, stop: bool = False) -> bool:
    """Replace every parameter's ``.grad`` by its mean over ranks, or with `weight` by the
    weighted mean ``Σ_r w_r g_r / Σ_r w_r`` (fit passes each rank's number of samples: Note
    [data parallelism]). A rank without a grad for a parameter counts as zero for it; a
    parameter no rank has a grad for keeps None. One Allreduce of a flat buffer per dtype, not
    one per parameter. A no-op in a world of size 1.

    `stop`: this rank wants the run to stop (fit: Ctrl-C, Note [Ctrl-C] in training.py); the
    flag rides in the same buffer. Returns True when any rank passed ``stop=True``, and then
    leaves every ``.grad`` as it was (the step is not taken, so the weights need not add up)."""
    comm = _comm()
    if comm is None or comm.Get_size() == 1:
        return bool(stop)
    from mpi4py import MPI

    from .optim import _grad_array
    params = _params_of(params, "allreduce_gradients")
    w = 1.0 if weight is None else float(weight)
    groups = list(_by_dtype([p.data for p in params]).items())
    if not groups:  # nothing to average: the stop flag still needs its round
        return bool(allreduce_sum([float(stop)])[0])
    results = []
    for g_index, (dtype, members) in enumerate(groups):
        grads = [_grad_array(params[i], "allreduce_gradients") for i in members]
        pieces = [(np.zeros(params[i].data.size, dtype) if g is None else (w * g).ravel())
                  for i, g in zip(members, grads, strict=True)]
        # the weight, one has-a-grad flag per parameter and (in the first buffer) the stop
        # flag ride in the same buffer
        tail = np.array([w] + [0.0 if g is None else 1.0 for g in grads]
                        + ([float(stop)] if g_index == 0 else []), dtype)
        buf = np.concatenate(pieces + [tail])
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        results.append((members, buf, buf[-len(tail):]))
    if results[0][2][-1] != 0:
        return True
    for members, buf, tail in results:
        total, flags = tail[0], tail[1:]
        if total == 0:
            raise ValueError("allreduce_gradients: the weights sum to 0 over all ranks")
        offset = 0
        for k, i in enumerate(members):
            p = params[i]
            n = p.data.size
            p.grad = None if flags[k] == 0 else (buf[offset:offset + n] / total).reshape(p.data.shape)
            offset += n
    return False


def allreduce_sum(values: np.ndarray) -> np.ndarray:
    """The elementwise sum of `values` (a float64 array) over ranks (a copy in a world of size
    1); fit sums its per-epoch loss, accuracy counts and sample counts with it."""
    values = np.array(values, dtype=np.float64)
    comm = _comm()
    if comm is not None and comm.Get_size() > 1:
        from mpi4py import MPI
        comm.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM)
    return values


def broadcast_object(obj, root: int = 0):
    """`root`'s `obj` on every rank (pickled; for small things such as a generator's state)."""
    comm = _comm()
    return obj if comm is None or comm.Get_size() == 1 else comm.bcast(obj, root=root)


@contextlib.contextmanager
def abort_on_error() -> Iterator[None]:
    """Inside this block, an exception on any rank (KeyboardInterrupt included) prints its
    traceback, marked with the rank, and aborts every rank (``MPI.COMM_WORLD.Abort(1)``), so no
    partner waits forever in a collective. In a world of size 1 exceptions propagate as usual."""
    try:
        yield
    except BaseException as e:
        comm = _comm()
        if comm is None or comm.Get_size() == 1 or (isinstance(e, SystemExit) and not e.code):
            raise
        r = comm.Get_rank()
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        sys.stderr.write(f"nn.distributed: rank {r} of {comm.Get_size()} failed; aborting every "
                         f"rank.\n[rank {r}] " + text.replace("\n", f"\n[rank {r}] ").rstrip() + "\n")
        sys.stderr.flush()
        comm.Abort(1)
        raise  # not reached: Abort ends the process


class Interrupts:
    """Ctrl-C (SIGINT) noted, not raised, while a distributed fit runs: `requested` turns True
    and fit stops every rank at the next step boundary (Note [Ctrl-C] in training.py). A second
    Ctrl-C raises KeyboardInterrupt as usual (and so aborts every rank: the way out of a hang)."""

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[Interrupts]:
    """Inside this block SIGINT sets ``Interrupts.requested`` instead of raising (the handler
    before it is restored on exit). Outside the main thread, where Python cannot install a
    handler, SIGINT keeps raising KeyboardInterrupt."""
    flags = Interrupts()
    try:
        previous = signal.signal(signal.SIGINT, flags._handler)
    except ValueError:  # not the main thread
        yield flags
        return
    try:
        yield flags
    finally:
        signal.signal(signal.SIGINT, previous)


def _reseed(stream, entropy: list[int]) -> None:
    """Put a module's generator on its own reproducible stream (the same kind of bit generator)."""
    seq = np.random.SeedSequence(entropy)
    if isinstance(stream, np.random.Generator):
        stream.bit_generator.state = type(stream.bit_generator)(seq).state
    elif isinstance(stream, np.random.RandomState):
        stream.seed(seq.generate_state(1)[0])


def per_rank_streams(streams: dict, shared: np.random.Generator, epoch: int,
                     prefixes: tuple[str, ...]) -> np.random.Generator:
    """At the start of each epoch of a distributed fit: a seed read off a copy of the `shared`
    generator (the same on every rank; the shared stream itself does not move, so the batch
    orders are those of one process) reseeds each stream whose name starts with one of `prefixes`
    (the model's Dropout/StochasticDepth generators, those augment holds) with ``[seed, epoch,
    rank, k]``, and the returned generator (augment's argument) with ``[seed, epoch, rank,
    2**32 - 1]``: every rank draws its own masks and augmentations, and a run is reproducible,
    resumed or not (only the shared generator's state needs saving)."""
    seed = int(np.random.Generator(copy.deepcopy(shared.bit_generator)).integers(2**63))
    r = rank()
    for k, (name, stream) in enumerate(streams.items()):
        if name.startswith(prefixes):
            _reseed(stream, [seed, epoch, r, k])
    seq = np.random.SeedSequence([seed, epoch, r, 2**32 - 1])
    return np.random.Generator(type(shared.bit_generator)(seq))

"""`Module`, `Parameter`, `Sequential`: PyTorch's module system on the engine's public API."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

import autograd_core as ag

ag.register_library_dir(__file__)  # a node's forward line points at the user's code, not nn's


class _Calls(threading.local):
    def __init__(self) -> None:  # runs once in each thread that reads it
        self.depth = 0  # how many Module calls are running in this thread


_calls = _Calls()


def _values(x) -> np.ndarray:
    """x's values as a constant array: a Tensor's ``.data``, anything else through np.asarray.
    For the places that mean the values (a shift, a dtype, a logged number, loaded state), since
    ``np.asarray(t)`` of a Tensor that requires grad is refused while recording."""
    return x.data if isinstance(x, ag.Tensor) else np.asarray(x)
_structure_version = [0]  # bumped when any module gains or loses a submodule

# Note [module state under jit]: an `ag.jit` program reads the Parameter objects and buffer arrays
# it found on the modules when traced. A module counts changes of what it holds (`_version`: a
# parameter, submodule or buffer assigned, a buffer rebound by `load_state_dict`, `astype` or a
# broadcast), and the outermost call of a traced model declares each such module's count with
# `ag.depends_on`, so a program is replayed only while they are unchanged, else traced again.


def rebind_buffer(mod: Module, name: str, array: np.ndarray) -> None:
    """Rebind buffer `name` of `mod` to `array` (no other bookkeeping: it stays a buffer)."""
    object.__setattr__(mod, name, array)
    object.__setattr__(mod, "_version", mod._version + 1)


class _Naming:
    """One root module's naming of its tree (the dotted paths that nodes are stamped with).

    It stays valid until the structure changes anywhere (`version`) or another root renames a
    module it named (`valid`): then the root names its tree again on its next call. Two models used
    in turn that share no module (a generator and a critic, a model and its EMA copy) each name
    their tree once; a shared submodule is renamed by whichever root calls it.
    """

    __slots__ = ("root", "version", "valid", "params", "stateful")

    def __init__(self, root: Module) -> None:
        self.root = id(root)  # (not the root itself: a cycle through every module of the tree)
        self.version = _structure_version[0]
        self.valid = True
        self.params = root.parameters()  # the tree's parameters, for the input cast (Note [dtype])
        # the modules holding parameters, buffers or submodules (Note [module state under jit])
        self.stateful = [m for _, m in root.named_modules() if m._params or m._modules or m._buffers]

    def dtype(self) -> np.dtype | None:
        """The dtype every float parameter of the tree shares; None without one (no parameters,
        or several float dtypes: then nothing is cast). Read live: ``p.data`` may be rebound."""
        dtype = None
        for p in self.params:
            d = p.data.dtype
            if d.kind != "f" or d == dtype:
                continue
            if dtype is not None:
                return None
            dtype = d
        return dtype


def _cast_inputs(args: tuple, dtype: np.dtype) -> tuple:
    """`args` with each float array or Tensor of another dtype cast to `dtype` (Note [dtype])."""
    cast = None
    for i, a in enumerate(args):
        if isinstance(a, ag.Tensor):
            d = a.data.dtype
        elif isinstance(a, np.ndarray):
            d = a.dtype
        else:
            continue
        if d.kind == "f" and d != dtype:
            cast = cast or list(args)
            # ag.astype is differentiable: a grad-requiring input gets its .grad in its own dtype
            cast[i] = ag.astype(a, dtype) if isinstance(a, ag.Tensor) else a.astype(dtype)
    return args if cast is None else tuple(cast)


class Parameter(ag.Tensor):
    """A Tensor with ``requires_grad=True`` that a `Module` registers as one of its parameters.

    Keeps the dtype of a float array it is given (lists become the engine's default dtype).
    """

    def __init__(self, data, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class: assign Parameters and Modules as attributes and they are registered.

    ``__call__`` runs ``forward``. Modules start in train mode (``.training``). Parameter names
    are dotted paths (``"layers.0.W"``). Buffers (``register_buffer``) are arrays saved in the
    state dict but not trained (e.g. a sparsity mask).

    Note [dtype]: a model computes in its parameters' dtype. The outermost module call (the
    model's entry) casts every float array or Tensor passed positionally to the dtype its float
    parameters share, once, so ``nn.MLP(...)(np.ones((1, 3)))`` runs a float32 model in float32
    rather than silently promoting it to float64 (PyTorch raises here instead; a cast is
    friendlier). A grad-requiring input is cast by ``ag.astype``, which is differentiable, so its
    ``.grad`` comes back in its own dtype. Integer and bool arguments pass through unchanged (they
    may be labels or indices); ``Dense`` and ``Conv2d`` convert integer data and lists of numbers
    themselves. To
    compute in float64, convert the model: ``model.astype(np.float64)``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_path", "")
        object.__setattr__(self, "_naming", None)  # the naming this module's paths come from
        object.__setattr__(self, "_version", 0)  # Note [module state under jit]

    def __setattr__(self, name: str, value) -> None:
        if "_params" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._modules or name in self._params:
            _structure_version[0] += 1  # (a changed parameter too: _Naming lists them)
        was_buffer = name in self._buffers
        held = was_buffer or name in self._modules or name in self._params
        if held or isinstance(value, (Parameter, Module)):
            object.__setattr__(self, "_version", self._version + 1)  # Note [module state under jit]
        for d in (self._params, self._modules, self._buffers):
            d.pop(name, None)
        if was_buffer and isinstance(value, np.ndarray):
            self._buffers[name] = True  # reassigning a buffer keeps it a buffer
        if isinstance(value, Parameter):
            self._params[name] = value
            _structure_version[0] += 1
        elif isinstance(value, Module):
            self._modules[name] = value
            _structure_version[0] += 1
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Register a non-trained array that belongs in the state dict."""
        setattr(self, name, _values(array))
        self._buffers[name] = True
        object.__setattr__(self, "_version", self._version + 1)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        # Nodes recorded inside are stamped with this module's dotted path (node.module), which
        # graph pictures and gradient-check reports use. The outermost call names the paths.
        calls = _calls
        depth = calls.depth
        if depth == 0:
            naming = self._naming
            if (naming is None or not naming.valid or naming.version != _structure_version[0]
                    or naming.root != id(self)):  # named as another root's submodule
                naming = self._name_tree()
            dtype = naming.dtype()
            if dtype is not None:
                args = _cast_inputs(args, dtype)  # the model's entry (Note [dtype])
            if ag.tracing.active() is not None:  # Note [module state under jit]
                for m in naming.stateful:
                    ag.depends_on(m, "_version")
        scope = ag.scope_stack()  # nodes recorded inside are stamped with the top path
        scope.append(self._path)
        calls.depth = depth + 1
        try:
            return self.forward(*args, **kwargs)
        finally:
            scope.pop()
            calls.depth = depth

    def _name_tree(self) -> _Naming:
        """Stamp every module under this root with its dotted path (see `_Naming`)."""
        naming = _Naming(self)
        for path, m in self.named_modules():
            if m._naming is not None:
                m._naming.valid = False  # e.g. another root named it: that root must rename
            object.__setattr__(m, "_path", path)
            object.__setattr__(m, "_naming", naming)
        return naming

    # ---- traversal -----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module and every submodule, depth first."""
        stack = [(prefix, self)]
        seen: set[int] = set()
        while stack:
            path, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield path, mod
            for name, sub in reversed(list(mod._modules.items())):
                stack.append((f"{path}.{name}" if path else name, sub))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, each Parameter once (shared ones under the first name)."""
        seen: set[int] = set()
        for path, mod in self.named_modules():
            for name, p in mod._params.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for path, mod in self.named_modules():
            for name in mod._buffers:
                yield (f"{path}.{name}" if path else name), getattr(mod, name)

    # ---- modes and grads -----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (as PyTorch's ``set_to_none=True``)."""
        for p in self.parameters():
            p.grad = None

    def astype(self, dtype) -> Module:
        """Convert every parameter (and float buffer) to `dtype` in place; returns self."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        for _, mod in self.named_modules():
            for name in mod._buffers:
                arr = getattr(mod, name)
                if arr.dtype.kind == "f":
                    rebind_buffer(mod, name, arr.astype(dtype))
        return self

    # ---- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Name → a copy of each parameter's and buffer's array."""
        d = {name: p.data.copy() for name, p in self.named_parameters()}
        d.update({name: np.array(b, copy=True) for name, b in self.named_buffers()})
        return d

    def _state_targets(self) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        seen: set[int] = set()  # a tied parameter is stored once, under its first name
        for path, mod in self.named_modules():
            for name, p in mod._params.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                out.setdefault(f"{path}.{name}" if path else name, ("param", p))
            for name in mod._buffers:
                out.setdefault(f"{path}.{name}" if path else name, ("buffer", (mod, name)))
        return out

    def load_state_dict(self, state: dict) -> None:
        """Load arrays by name (strict). Missing or unexpected names, wrong shapes or non-numeric
        arrays raise an error naming them, and then nothing is changed."""
        targets = self._state_targets()
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected: {', '.join(unexpected)}")
        staged = {}
        for name, (kind, t) in targets.items():
            if name not in state:
                continue
            arr = _values(state[name])  # a Parameter of another model gives its values
            current = t.data if kind == "param" else getattr(*t)
            if arr.dtype.kind not in "biuf":
                problems.append(f"{name}: dtype {arr.dtype} is not numeric")
            elif arr.shape != current.shape:
                problems.append(f"{name}: shape {arr.shape}, expected {current.shape}")
            else:
                # cast now, before anything is assigned, so a bad value cannot leave a half-loaded module
                with np.errstate(over="ignore", invalid="ignore"):
                    cast = np.array(arr, dtype=current.dtype, copy=True)
                if arr.dtype.kind == "f" and current.dtype.kind == "f":
                    lost = np.isfinite(arr) & ~np.isfinite(cast)
                else:
                    lost = cast != arr
                if np.any(lost):
                    problems.append(f"{name}: values do not fit dtype {current.dtype}")
                else:
                    staged[name] = cast
        if problems:
            raise ValueError(f"load_state_dict({type(self).__name__}): " + "; ".join(problems))
        for name, arr in staged.items():
            kind, t = targets[name]
            if kind == "param":
                t.data = arr  # rebind (a fresh copy): never write into arrays saved for backward
                t.grad = None
            else:
                mod, attr = t
                rebind_buffer(mod, attr, arr)

    # ---- printing --------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, sub in self._modules.items():
            body = repr(sub).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


class Sequential(Module):
    """Apply layers in order; they are registered as ``"0"``, ``"1"``, ..."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

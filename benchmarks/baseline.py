"""The engine and `nn` as they were at a git revision, loaded beside the working tree's.

``python -m benchmarks --baseline REV`` times a refactoring before and after in one run: the
peers ``ours@<short>`` and ``ours-ag@<short>`` run the same builders as ``ours`` and ``ours-ag``
(mlp.py, cnn.py, elementwise.py), given REV's engine and nn instead of the working tree's, and
take part in the same interleaved rounds as every other peer.

How REV's code is loaded (`load`):

1. ``git archive REV autograd_core nn`` is unpacked into a temporary folder as the packages
   ``autograd_core_base`` and ``nn_base``, so both versions live in one interpreter.
2. The copy's absolute references to its own packages are renamed (`rewrite_source`): import
   statements (``import autograd_core as ag`` → ``import autograd_core_base as ag``, ``import
   nn`` → ``import nn_base as nn``, ``from nn.x import y`` → ``from nn_base.x import y``) and
   quoted module names (``importlib.import_module("autograd_core.viz")``). Relative imports,
   including the ones inside functions, resolve within the renamed package by themselves.
3. Checks that the copy never reaches the working tree's packages: no absolute import of them
   is left in any file (`leftover_imports`, with `ast`, so imports inside functions and odd
   layouts count too); importing the copy loads none of the working tree's modules; and
   (`Baseline.verify`) every loaded ``autograd_core_base``/``nn_base`` module's file is in the
   temporary folder and none of their globals is a module, function or class of the working
   tree. The harness repeats `verify` after each workload, when lazy imports have happened.

`Baseline.close` (also registered with atexit) removes the folder and the modules.
"""

from __future__ import annotations

import ast
import atexit
import functools
import hashlib
import importlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("autograd_core", "nn")  # the trees copied from REV, in import order (nn needs the engine)
SUFFIX = "_base"
ENGINE_PEERS = ("ours", "ours-ag")  # the peers whose builders take the engine and nn as arguments
ALIAS = "base"  # `--peers ours@base` names the baseline's peer without its hash
MEMORY_NOTE = ("the baseline peers are not in the peak-memory comparison: benchmarks.memory runs "
               "the working tree's engine only")

_PKG = "|".join(PACKAGES)
# `from autograd_core.x import y` / `from nn import z` at the start of a line (any indentation)
_FROM = re.compile(rf"^(\s*from\s+)({_PKG})(?=[.\s])", re.M)
# `import a, b as c  # comment` at the start of a line: the names, then what follows them
_IMPORT = re.compile(r"^(\s*import\s+)([^#;\n]+?)(\s*(?:[#;].*)?)$", re.M)
_ITEM = re.compile(rf"^({_PKG})((?:\.\w+)*)(?:\s+as\s+(\w+))?$")
# a quoted module name: "autograd_core", 'nn.layers', "autograd_core.viz"
_QUOTED = re.compile(rf"(?<![\w.])([\"'])({_PKG})((?:\.\w+)*)\1")


class BaselineError(Exception):
    """REV cannot be loaded (not a git checkout, not a revision, its trees missing)."""


def peer_name(peer: str, short: str) -> str:
    return f"{peer}@{short}"


def counterpart(name: str) -> str | None:
    """The working tree's peer that a baseline peer is compared with (None: not a baseline peer)."""
    return name.split("@", 1)[0] if "@" in name else None


# ---- rewriting -----------------------------------------------------------------------------------


def _rewrite_import_item(item: str) -> str:
    m = _ITEM.match(item.strip())
    if not m:
        return item
    pkg, sub, alias = m.groups()
    new = pkg + SUFFIX
    if alias:
        new = f"{new}{sub} as {alias}"
    elif sub:  # `import nn.layers` binds the name `nn`: import the submodule, then bind `nn` too
        new = f"{new}{sub}, {new} as {pkg}"
    else:
        new = f"{new} as {pkg}"
    return item[:len(item) - len(item.lstrip())] + new


def rewrite_source(text: str) -> str:
    """Rename the absolute references to `autograd_core` and `nn` in one file's source."""
    text = _FROM.sub(lambda m: m.group(1) + m.group(2) + SUFFIX, text)
    text = _IMPORT.sub(lambda m: m.group(1) + ",".join(
        _rewrite_import_item(i) for i in m.group(2).split(",")) + m.group(3), text)
    return _QUOTED.sub(lambda m: m.group(1) + m.group(2) + SUFFIX + m.group(3) + m.group(1), text)


def _is_current(module: str | None) -> bool:
    """Whether a dotted module name belongs to the working tree's packages."""
    return bool(module) and module.split(".", 1)[0] in PACKAGES


def leftover_imports(text: str) -> list[str]:
    """Absolute references to the working tree's packages still in a (rewritten) source."""
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            out += [f"line {node.lineno}: import {a.name}" for a in node.names if _is_current(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_current(node.module):
            out.append(f"line {node.lineno}: from {node.module} import ...")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.fullmatch(r"\w+(\.\w+)*", node.value) and _is_current(node.value)):
            out.append(f"line {node.lineno}: the string {node.value!r}")
    return out


# ---- git -----------------------------------------------------------------------------------------


def _git(*args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=not binary,
                              timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise BaselineError(f"--baseline needs git: {type(e).__name__}: {e}") from None


def _err(p: subprocess.CompletedProcess) -> str:
    s = p.stderr.decode(errors="replace") if isinstance(p.stderr, bytes) else p.stderr
    return s.strip().splitlines()[-1] if s.strip() else f"exit code {p.returncode}"


def resolve(rev: str) -> tuple[str, str]:
    """(full hash, short hash) of the commit REV names; BaselineError with git's reason if none."""
    p = _git("rev-parse", "--is-inside-work-tree")
    if p.returncode != 0 or p.stdout.strip() != "true":
        raise BaselineError(f"--baseline {rev}: {ROOT} is not inside a git checkout ({_err(p)})")
    p = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if p.returncode != 0 or not p.stdout.strip():
        raise BaselineError(f"--baseline {rev}: not a revision of the repository at {ROOT} "
                            "(expected a commit, branch, tag or e.g. HEAD~3)")
    full = p.stdout.strip()
    short = _git("rev-parse", "--short", full).stdout.strip() or full[:7]
    return full, short


# ---- loading -------------------------------------------------------------------------------------


@dataclass
class Baseline:
    rev: str  # as the user wrote it
    commit: str
    short: str
    tmpdir: Path
    ag: types.ModuleType
    nn: types.ModuleType
    source_sha256: str  # as engine_version's hash of the working tree: equal when the sources are
    closed: bool = field(default=False, repr=False)

    @property
    def peers(self) -> list[str]:
        return [peer_name(p, self.short) for p in ENGINE_PEERS]

    def matches(self, name: str) -> bool:
        """Whether a `--peers` entry (``ours@abc1234``, ``ours@base``, ``ours@REV``) is ours."""
        peer, _, tag = name.partition("@")
        return peer in ENGINE_PEERS and bool(tag) and (
            tag in (ALIAS, self.rev) or (len(tag) >= 4 and self.commit.startswith(tag)))

    def builders(self, builders: dict) -> dict:
        """Baseline peers for a workload: its engine builders given this revision's modules."""
        return {peer_name(p, self.short): functools.partial(builders[p], ag=self.ag, nn=self.nn)
                for p in ENGINE_PEERS if p in builders}

    def info(self, peers: list[str]) -> dict:
        """For the results: `peers`, the baseline peers selected."""
        return {"rev": self.rev, "commit": self.commit, "short": self.short,
                "peers": [p for p in peers if p in self.peers],
                "packages": [p + SUFFIX for p in PACKAGES], "source_sha256": self.source_sha256,
                "memory": MEMORY_NOTE}

    def modules(self) -> dict[str, types.ModuleType]:
        return {n: m for n, m in list(sys.modules.items())
                if n.split(".", 1)[0] in {p + SUFFIX for p in PACKAGES}}

    def verify(self) -> None:
        """Every loaded baseline module comes from the temporary folder and holds none of the
        working tree's modules, functions or classes at module level. BaselineError if not."""
        problems = []
        for name, mod in self.modules().items():
            f = getattr(mod, "__file__", None)
            if not f or not Path(f).resolve().is_relative_to(self.tmpdir.resolve()):
                problems.append(f"{name} was loaded from {f}, not from {self.tmpdir}")
            for key, value in list(vars(mod).items()):
                owner = (value.__name__ if isinstance(value, types.ModuleType)
                         else getattr(value, "__module__", None)
                         if isinstance(value, (type, types.FunctionType)) else None)
                if isinstance(owner, str) and _is_current(owner):
                    problems.append(f"{name}.{key} is {owner} of the working tree")
        if problems:
            raise BaselineError("the baseline's modules reach the working tree's: "
                                + "; ".join(problems[:5]))

    def close(self) -> None:
        """Remove the temporary folder and forget the modules (a later load starts afresh)."""
        if self.closed:
            return
        self.closed = True
        atexit.unregister(self.close)
        for name in self.modules():
            del sys.modules[name]
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _extract(commit: str, tmpdir: Path) -> str:
    """Unpack REV's package trees into `tmpdir` under their new names; returns the hash of their
    top-level sources (computed as `run.engine_version` does, before the renaming)."""
    p = _git("archive", "--format=tar", commit, "--", *PACKAGES, binary=True)
    if p.returncode != 0:
        raise BaselineError(f"--baseline: git archive {commit[:12]} {' '.join(PACKAGES)} failed "
                            f"({_err(p)}); does that revision have both trees?")
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tar:
        kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmpdir, **kw)
    digest = hashlib.sha256()
    for path in sorted([*tmpdir.glob("autograd_core/*.py"), *tmpdir.glob("nn/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    for pkg in PACKAGES:
        if not (tmpdir / pkg / "__init__.py").is_file():
            raise BaselineError(f"--baseline: {commit[:12]} has no {pkg}/__init__.py")
        (tmpdir / pkg).rename(tmpdir / (pkg + SUFFIX))
    return digest.hexdigest()[:16]


def load(rev: str) -> Baseline:
    """Load REV's engine and nn as `autograd_core_base` and `nn_base` (see the module's doc)."""
    commit, short = resolve(rev)
    names = [p + SUFFIX for p in PACKAGES]
    if any(n in sys.modules for n in names):
        raise BaselineError("a baseline is already loaded in this process; close() it first")
    tmpdir = Path(tempfile.mkdtemp(prefix=f"bench-baseline-{short}-"))
    try:
        sha = _extract(commit, tmpdir)
        problems = []
        for path in sorted(tmpdir.rglob("*.py")):
            src = path.read_text(encoding="utf-8")
            new = rewrite_source(src)
            try:
                problems += [f"{path.relative_to(tmpdir)} {p}" for p in leftover_imports(new)]
            except SyntaxError as e:  # the file is broken at REV already, or by the renaming
                problems.append(f"{path.relative_to(tmpdir)} does not parse: {e}")
            if new != src:
                path.write_text(new, encoding="utf-8")
        if problems:
            raise BaselineError("--baseline: references to the working tree's packages left after "
                                "renaming: " + "; ".join(problems[:5]))
        before = {n for n in sys.modules if _is_current(n)}
        sys.path.insert(0, str(tmpdir))
        importlib.invalidate_caches()
        try:  # submodules and lazy imports find the copy through the packages' __path__ later
            mods = [importlib.import_module(n) for n in names]
        finally:
            sys.path.remove(str(tmpdir))
        base = Baseline(rev, commit, short, tmpdir, mods[0], mods[1], sha)
    except BaseException:
        for n in [n for n in sys.modules if n.split(".", 1)[0] in names]:
            del sys.modules[n]
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    atexit.register(base.close)
    try:
        new_current = sorted({n for n in sys.modules if _is_current(n)} - before)
        if new_current:
            raise BaselineError(f"importing the baseline loaded the working tree's {new_current}")
        base.verify()
    except BaseException:
        base.close()
        raise
    return base

"""The examples in docstrings run and say what they show (doctest, with np, ag and nn in scope)."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import autograd_core as ag
import nn

MODULES = sorted(
    [m.name for m in pkgutil.walk_packages(ag.__path__, "autograd_core.")]
    + [f"nn.{m.name}" for m in pkgutil.iter_modules(nn.__path__)
       if m.name not in ("demo", "experiments")]  # programs, with their own tests
    + ["autograd_core", "nn"])


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {**vars(module), "np": np, "ag": ag, "nn": nn}
    for test in finder.find(module, name, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"


def test_docs_ops_md_lists_every_public_op():
    """docs/ops.md (written by docs/make_ops_md.py) lists every op of the rule table."""
    from pathlib import Path

    from autograd_core import rules

    text = (Path(__file__).resolve().parent.parent / "docs" / "ops.md").read_text()
    missing = [name for name in rules.QUALIFIED if f"`ag.{name}(" not in text]
    assert not missing, f"run `python docs/make_ops_md.py`: docs/ops.md lacks {missing}"

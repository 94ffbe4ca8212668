"""The README's Python examples run as written (in order, in one namespace, as a reader would)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")  # the nn example trains on scikit-learn's digits
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3, "the README's examples went missing"
    monkeypatch.chdir(tmp_path)  # whatever a block writes lands here
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"README.md python block {i}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "check PASSED" in out  # the gradcheck example printed its report
    accuracy = float(out.strip().splitlines()[-1])
    assert accuracy > 0.85, out  # the nn example trained something real

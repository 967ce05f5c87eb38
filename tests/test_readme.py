"""README.rst stays true: its Python examples run, its commands are the ones CI runs."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.rst"


def _blocks(language):
    text = README.read_text()
    pattern = rf"\.\. code-block:: {language}\n\n((?:   .*\n|\n)+)"
    return [re.sub(r"^   ", "", b, flags=re.M) for b in re.findall(pattern, text)]


@pytest.mark.skipif(not README.exists(), reason="README.rst is not beside the tests")
def test_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("python")
    assert blocks
    namespace = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)  # examples build on each other


@pytest.mark.skipif(not README.exists(), reason="README.rst is not beside the tests")
def test_the_two_commands_come_first():
    commands = _blocks("bash")[0].split("\n")
    assert commands[0] == "pip install . && sparserec demo"
    assert commands[1] == 'pip install ".[test]" && pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert "README.rst" in ci and 'pip install "\\.\\[test\\]"' in ci

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
def test_examples_print_what_the_readme_shows(tmp_path, monkeypatch):
    """Every ``pycon`` block runs as a doctest (the blocks build on each other), so the
    printed shapes, iteration counts and NMSE values in the README are checked."""
    import doctest
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("pycon")
    assert len(blocks) >= 2
    assert not _blocks("python"), "write README examples as pycon blocks with their output"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs = {}
    for i, code in enumerate(blocks):
        test = parser.get_doctest(code, globs, f"README block {i}", str(README), 0)
        runner.run(test, clear_globs=False)
        globs = test.globs
    assert runner.summarize(verbose=False).failed == 0


@pytest.mark.skipif(not README.exists(), reason="README.rst is not beside the tests")
def test_the_two_commands_come_first():
    commands = _blocks("bash")[0].split("\n")
    assert commands[0] == "pip install . && sparserec demo"
    assert commands[1] == 'pip install ".[test]" && pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert "README.rst" in ci and 'pip install "\\.\\[test\\]"' in ci

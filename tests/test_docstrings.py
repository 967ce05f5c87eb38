"""The Examples sections of the docstrings run and print what they show."""
import doctest
import importlib
import pkgutil

import pytest

import sparserec

MODULES = sorted(m.name for m in pkgutil.walk_packages(sparserec.__path__, "sparserec."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0


def test_examples_exist():
    attempted = sum(doctest.testmod(importlib.import_module(n), verbose=False,
                                    optionflags=doctest.ELLIPSIS).attempted for n in MODULES)
    assert attempted >= 10

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


def _public_objects():
    public = [m for m in MODULES if not any(part.startswith("_") for part in m.split("."))]
    for name in public + ["sparserec"]:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if callable(obj) or isinstance(obj, type):
                yield f"{name}.{attr}", obj


# numpydoc checks every public name must pass: a docstring with a summary, every
# parameter documented with a type and none invented, a Returns section where the
# function returns something
_ENFORCED = {"GL08", "SS01", "PR01", "PR02", "PR04", "RT01"}


@pytest.mark.parametrize("qualname, obj", list(_public_objects()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_names_have_numpydoc_docstrings(qualname, obj):
    from numpydoc.validate import validate
    report = validate(f"{obj.__module__}.{obj.__qualname__}")
    errors = [f"{code}: {msg}" for code, msg in report["errors"] if code in _ENFORCED]
    assert not errors, f"{qualname}: " + "; ".join(errors)

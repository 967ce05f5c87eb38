"""Execute every notebook in ``notebooks/`` and fail on any cell error.

The kernel runs with the interpreter that runs pytest: a private ``python3`` kernelspec whose
argv starts with ``sys.executable`` is written to a temporary directory, so a user-level or
system kernelspec pointing at another Python cannot be picked up by accident.  The last
(injected) cell checks this.
"""
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
kernelspec = pytest.importorskip("jupyter_client.kernelspec")
jupyter_client = pytest.importorskip("jupyter_client")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "python3"


@pytest.fixture(scope="module")
def kernel_spec_manager(tmp_path_factory):
    """A kernelspec manager that only knows ``python3`` = this interpreter + ipykernel."""
    spec_dir = tmp_path_factory.mktemp("kernels") / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (pytest interpreter)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return kernelspec.KernelSpecManager(kernel_dirs=[str(spec_dir.parent)],
                                        ensure_native_kernel=False)


def _interpreter_check_cell(expected):
    return nbformat.v4.new_code_cell(
        "import os, sys\n"
        f"assert os.path.realpath(sys.executable) == {expected!r}, sys.executable\n"
    )


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, kernel_spec_manager, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(_interpreter_check_cell(os.path.realpath(sys.executable)))
    # Headless and deterministic regardless of the caller's environment; the notebooks
    # use the inline backend, which needs no display.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("PYTHONHASHSEED", "0")

    km = jupyter_client.AsyncKernelManager(kernel_name=KERNEL_NAME,
                                           kernel_spec_manager=kernel_spec_manager)
    client = nbclient.NotebookClient(nb, km=km, timeout=300, kernel_name=KERNEL_NAME,
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()           # raises CellExecutionError on the first failing cell
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name} failed:\n{err}", pytrace=False)
    # nothing written next to the notebook or in the working directory except temp files
    assert not any(tmp_path.iterdir()), sorted(p.name for p in tmp_path.iterdir())

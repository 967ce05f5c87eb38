"""Execute every notebook in ``notebooks/`` and fail on any cell error.

The kernel runs with the interpreter that runs pytest: a private ``python3`` kernelspec whose
argv starts with ``sys.executable`` is written to a temporary directory, so a user-level or
system kernelspec pointing at another Python cannot be picked up by accident.  The last
(injected) cell checks this.
"""
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
kernelspec = pytest.importorskip("jupyter_client.kernelspec")
jupyter_client = pytest.importorskip("jupyter_client")
from nbclient.exceptions import CellExecutionError  # noqa: E402

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
        # the notebooks use the inline backend (no display needed); pin it so that an
        # MPLBACKEND=Agg exported by the caller does not turn plt.show() into a warning
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return kernelspec.KernelSpecManager(kernel_dirs=[str(spec_dir.parent)],
                                        ensure_native_kernel=False)


def _interpreter_check_cell():
    """A cell asserting the kernel runs pytest's interpreter in pytest's environment."""
    expected = (sys.executable, sys.prefix)    # prefix tells a venv from its base Python
    return nbformat.v4.new_code_cell(
        "import sys\n"
        f"assert (sys.executable, sys.prefix) == {expected!r}, (sys.executable, sys.prefix)\n"
    )


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, kernel_spec_manager):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(_interpreter_check_cell())

    km = jupyter_client.AsyncKernelManager(kernel_name=KERNEL_NAME,
                                           kernel_spec_manager=kernel_spec_manager)
    # the kernel's working directory is tmp_path: anything a notebook writes stays there
    client = nbclient.NotebookClient(nb, km=km, timeout=300, kernel_name=KERNEL_NAME,
                                     resources={"metadata": {"path": str(tmp_path)}})
    failure = None
    try:
        # cleanup_kc: shut the kernel down afterwards although we passed our own manager
        client.execute(cleanup_kc=True)    # raises CellExecutionError at the first failing cell
    except CellExecutionError as err:
        failure = str(err)
    if failure is not None:
        pytest.fail(f"{path.name} failed:\n{failure}", pytrace=False)

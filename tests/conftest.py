"""Shared fixtures."""
import os

# scikit-learn's estimator checks run their array-API cases only with this set, and SciPy
# reads it once, at import: set it before anything imports SciPy
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402


@pytest.fixture
def cupy():
    """The CuPy module, or skip when CuPy or a CUDA device is missing."""
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as exc:  # CUDA driver missing
        pytest.skip(f"no CUDA device ({exc})")
    return cp

"""Shared fixtures."""
import pytest


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

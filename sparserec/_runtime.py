"""What a timing depends on: BLAS library and threads, Numba threads."""
from threadpoolctl import threadpool_info

__all__ = ["blas_summary"]


def blas_summary():
    """One line naming the BLAS libraries, their thread counts and Numba's threads."""
    pools = [f"{p.get('internal_api')} {p.get('num_threads')} thread(s)"
             for p in threadpool_info() if p.get("user_api") == "blas"]
    try:
        import numba
        numba_threads = numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover - numba is a hard dependency
        numba_threads = "n/a"
    return f"BLAS: {', '.join(pools) or 'unknown'}; Numba threads: {numba_threads}"

"""Trial functions of the toy studies in tests/test_experiments.py (importable by workers)."""
import time

import numpy as np


def noisy_mean(point, rng):
    """A toy trial: a few random draws around ``point["mu"]``, optionally slow."""
    time.sleep(point.get("sleep", 0.0))
    draws = rng.standard_normal(5) + point["mu"]
    return {"mean": float(draws.mean()), "first": float(draws[0]),
            "above": bool(draws.mean() > point["mu"])}


def noisy_mean_batch(point, rngs):
    """The same trial, a whole chunk at a time."""
    return [noisy_mean(point, rng) for rng in rngs]


def least_squares(A, y):
    """A callable solver ``(A, y) -> x`` (minimum-norm least squares)."""
    return np.linalg.lstsq(A, y, rcond=None)[0]


def padded(point, rng):
    """The toy trial with a 2 kB result (fills a store quickly)."""
    return {**noisy_mean(point, rng), "pad": "x" * 2000}

"""The timing loop of the Python benchmarks: warm up, wait for the other
workers, then run steps until both a minimum count and a minimum time."""

import time


def time_steps(step, warmup, min_steps, min_seconds, start=None):
    """Runs step() `warmup` times, waits on `start` (a barrier, or None),
    then until at least `min_steps` steps and `min_seconds` seconds have
    passed. Returns (steps, elapsed seconds) of the timed part."""
    for _ in range(warmup):
        step()
    if start is not None:
        start.wait()
    began = time.perf_counter()
    steps = 0
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - began
        if steps >= min_steps and elapsed >= min_seconds:
            return steps, elapsed

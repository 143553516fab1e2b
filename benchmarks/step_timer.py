"""What the Python benchmarks share: the timing loop (warm up, wait for the
other workers, then run steps until both a minimum count and a minimum
time), and running worker processes and reading their rates."""

import sys
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


def run_processes(processes):
    """Starts `processes`, waits for every one, and exits the benchmark if
    one failed."""
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            sys.exit("a process failed (exit code %s)" % process.exitcode)


def per_worker_rates(results, workers):
    """Steps per second of workers 0..workers-1, from their (steps,
    elapsed) in `results`."""
    return [results[r][0] / results[r][1] for r in range(workers)]

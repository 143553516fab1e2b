"""The Python client moving whole models: the counterpart, from Python, of
benchmarks/model_sync_benchmark (C++) and of torch_rpc_model_sync.py
(PyTorch's parameter-server pattern over torch.distributed.rpc).

Each worker process, every step, pulls every variable (tf.pull, into numpy
arrays over the received bytes) and pushes one gradient per variable in one
push, applied with SGD by the server (GradientDescentOptimizer
.apply_gradients). The gradients are made once, so a step is the
synchronisation alone. With --mode=pull or push, a step is only that, and
the figure is GB/s. Prints one JSON line.

    /usr/bin/python3 benchmarks/python_model_sync.py --server=HOST:PORT \\
        --workers=2
"""

import argparse
import json
import multiprocessing
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "..", "client", "python"))
from model_shapes import resnet50_shapes  # noqa: E402  pylint: disable=wrong-import-position
from step_timer import per_worker_rates  # noqa: E402  pylint: disable=wrong-import-position
from step_timer import run_processes  # noqa: E402  pylint: disable=wrong-import-position
from step_timer import time_steps  # noqa: E402  pylint: disable=wrong-import-position
import paramserver as tf  # noqa: E402  pylint: disable=wrong-import-position


def _variables(shapes, scope):
    with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
        return [tf.get_variable("v%03d" % i, shape,
                                initializer=tf.zeros_initializer())
                for i, shape in enumerate(shapes)]


def _worker(rank, args, shapes, start, results):
    tf.connect(args.server)
    variables = _variables(shapes, args.scope)
    gradients = [np.full(s, 1e-3, np.float32) for s in shapes]
    optimizer = tf.train.GradientDescentOptimizer(0.01)
    pairs = list(zip(gradients, variables))

    def pull():
        # Every variable, whether or not it moved (as when other workers
        # push between steps).
        return tf.pull(variables, conditional=False)

    def step():
        if args.mode in ("sync", "pull"):
            arrays = pull()
            assert len(arrays) == len(variables)
        if args.mode in ("sync", "push"):
            optimizer.apply_gradients(pairs)

    results[rank] = time_steps(step, args.warmup, args.min_steps,
                               args.min_seconds, start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model", choices=["resnet50", "single64mb"],
                        default="resnet50")
    parser.add_argument("--mode", choices=["sync", "pull", "push"],
                        default="sync")
    parser.add_argument("--scope", default="python_model_sync")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min_steps", type=int, default=5)
    parser.add_argument("--min_seconds", type=float, default=5.0)
    args = parser.parse_args()
    shapes = (resnet50_shapes() if args.model == "resnet50" else
              [[16 * 1024 * 1024]])
    args.scope += "_" + args.model
    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    results = manager.dict()
    start = context.Barrier(args.workers)
    workers = [context.Process(target=_worker,
                               args=(r, args, shapes, start, results))
               for r in range(args.workers)]
    run_processes(workers)
    per_worker = per_worker_rates(results, args.workers)
    num_bytes = sum(4 * int(np.prod(s)) for s in shapes)
    row = {
        "peer": "paramserver (Python client)",
        "model": args.model,
        "variables": len(shapes),
        "bytes": num_bytes,
        "workers": args.workers,
        "steps_per_second": sum(per_worker),
        "per_worker": per_worker,
    }
    if args.mode != "sync":
        row["mode"] = args.mode
        row["gb_per_second"] = sum(per_worker) * num_bytes / 1e9
    print(json.dumps(row))


if __name__ == "__main__":
    main()

"""The image filter's training step through a parameter server, ours from
Python against PyTorch's parameter-server pattern over torch.distributed.rpc.

A step, in each worker process: fetch the filter's four tensors (conv1 and
conv2, 5x5x32x32 kernels and their biases), run the filter forward on a
batch of images with torch.nn.functional.conv2d, take the mean squared error
against a fixed teacher filter's output, backward (autograd), and send the
four gradients back, which the server applies with SGD.
 - paramserver: paramserver.torch's ParameterSet.step (a conditional pull,
   the pass, one push applied by the server's GradientDescentOptimizer);
 - rpc: PyTorch's tutorial pattern, a server process holding the tensors,
   rpc_sync to fetch them and to apply the gradients in place.
The images and targets are made before timing, so a step is the
synchronisation and the compute. Prints one JSON line (steps/s summed over
the workers).

    /usr/bin/python3 benchmarks/image_filter_step.py --peer=paramserver \\
        --server=HOST:PORT --workers=2
    /usr/bin/python3 benchmarks/image_filter_step.py --peer=rpc --workers=2
"""

import argparse
import json
import multiprocessing
import os
import sys

import torch
import torch.distributed.rpc as rpc
import torch.nn.functional as F

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "..", "examples", "python"))
from step_timer import per_worker_rates  # noqa: E402  pylint: disable=wrong-import-position
from step_timer import run_processes  # noqa: E402  pylint: disable=wrong-import-position
from step_timer import time_steps  # noqa: E402  pylint: disable=wrong-import-position
from torch_rpc_model_sync import free_port  # noqa: E402  pylint: disable=wrong-import-position
from torch_rpc_model_sync import rpc_options  # noqa: E402  pylint: disable=wrong-import-position
from torch_rpc_model_sync import tune_malloc_of_children  # noqa: E402  pylint: disable=wrong-import-position
from train_image_filter import apply_filter  # noqa: E402  pylint: disable=wrong-import-position

_SHAPES = [(32, 32, 5, 5), (32,), (32, 32, 5, 5), (32,)]  # OIHW, as conv2d.
_LEARNING_RATE = 0.01
_PARAMS = None  # The rpc server's tensors.


def _batches(args, rank):
    """A few (images, targets) pairs of this worker, made before timing."""
    generator = torch.Generator().manual_seed(1000)
    teacher = [torch.randn(s, generator=generator) * 0.05 for s in _SHAPES]
    batches = []
    for i in range(4):
        images = torch.rand(args.batch, 32, args.size, args.size,
                            generator=torch.Generator().manual_seed(
                                rank << 8 | i))
        with torch.no_grad():
            batches.append((images, apply_filter(teacher, images)))
    return batches


def _cycle(batches):
    while True:
        yield from batches


def _paramserver_worker(rank, args, start, results):
    import paramserver as tf  # pylint: disable=import-outside-toplevel
    import paramserver.torch as ps_torch  # pylint: disable=import-outside-toplevel
    from image_filter import my_image_filter  # pylint: disable=import-outside-toplevel
    torch.set_num_threads(args.threads)
    tf.connect(args.server)
    batches = _batches(args, rank)
    params = ps_torch.ParameterSet()
    with tf.variable_scope(args.scope, reuse=tf.AUTO_REUSE):
        my_image_filter(params, batches[0][0][:1],
                        tf.random_normal_initializer(stddev=0.05, seed=7))
    student = params.parameters()
    optimizer = tf.train.GradientDescentOptimizer(_LEARNING_RATE)
    data = _cycle(batches)

    def step():
        images, targets = next(data)
        params.step(lambda: F.mse_loss(apply_filter(student, images),
                                       targets), optimizer)

    results[rank] = time_steps(step, args.warmup, args.min_steps,
                               args.min_seconds, start)


def get_params():
    return _PARAMS


def apply_sgd(grads):
    with torch.no_grad():
        for p, g in zip(_PARAMS, grads):
            p.add_(g, alpha=-_LEARNING_RATE)
    return True


def _rpc_process(rank, world, port, args, results):
    global _PARAMS
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(args.threads)
    options = rpc_options(args.transport, 16)
    if rank == 0:
        generator = torch.Generator().manual_seed(7)
        _PARAMS = [torch.randn(s, generator=generator) * 0.05
                   for s in _SHAPES]
        rpc.init_rpc("ps", rank=0, world_size=world,
                     rpc_backend_options=options)
        rpc.shutdown()
        return
    rpc.init_rpc("worker%d" % rank, rank=rank, world_size=world,
                 rpc_backend_options=options)
    data = _cycle(_batches(args, rank - 1))

    def step():
        images, targets = next(data)
        tensors = [t.requires_grad_() for t in rpc.rpc_sync("ps", get_params)]
        F.mse_loss(apply_filter(tensors, images), targets).backward()
        rpc.rpc_sync("ps", apply_sgd, args=([t.grad for t in tensors],))

    results[rank - 1] = time_steps(step, args.warmup, args.min_steps,
                                   args.min_seconds)
    rpc.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", choices=["paramserver", "rpc"],
                        required=True)
    parser.add_argument("--server", help="HOST:PORT (--peer=paramserver)")
    parser.add_argument("--scope", default="image_filter_step")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="PyTorch's intra-op threads per worker")
    parser.add_argument("--transport", choices=["tcp", "default"],
                        default="tcp")
    parser.add_argument("--malloc", choices=["default", "tuned"],
                        default="default")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--min_steps", type=int, default=10)
    parser.add_argument("--min_seconds", type=float, default=5.0)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    results = context.Manager().dict()
    if args.peer == "paramserver":
        if not args.server:
            parser.error("--peer=paramserver needs --server")
        start = context.Barrier(args.workers)
        processes = [context.Process(target=_paramserver_worker,
                                     args=(r, args, start, results))
                     for r in range(args.workers)]
        peer = "paramserver (Python client)"
    else:
        if args.malloc == "tuned":
            tune_malloc_of_children()
        world = args.workers + 1
        port = free_port()
        processes = [context.Process(target=_rpc_process,
                                     args=(r, world, port, args, results))
                     for r in range(world)]
        peer = "torch.distributed.rpc (%s%s)" % (
            args.transport, ", malloc tuned" if args.malloc == "tuned" else "")
    run_processes(processes)
    per_worker = per_worker_rates(results, args.workers)
    print(json.dumps({
        "peer": peer, "model": "image_filter", "workers": args.workers,
        "batch": args.batch, "size": args.size, "threads": args.threads,
        "steps_per_second": sum(per_worker), "per_worker": per_worker}))


if __name__ == "__main__":
    main()

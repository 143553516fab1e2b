"""PyTorch's parameter-server pattern over torch.distributed.rpc: the peer of
benchmarks/model_sync_benchmark.

A server process holds a model's parameters; each worker, every step, fetches
all of them by RPC and sends one gradient per parameter back, which the
server applies with SGD in place (p.add_(g, alpha=-lr)), as PyTorch's
parameter-server tutorial does. The gradients are made once, so a step is
the synchronisation alone. Prints one JSON line.

Run with Debian's interpreter (python3-torch):
  /usr/bin/python3 benchmarks/torch_rpc_model_sync.py --workers 2 --transport tcp
"""

import argparse
import json
import os
import socket
import sys

import torch
import torch.distributed.rpc as rpc
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_shapes import resnet50_shapes  # noqa: E402
from step_timer import time_steps  # noqa: E402

_PARAMS = None


def _init_params(shapes):
    global _PARAMS
    torch.manual_seed(0)
    _PARAMS = [torch.randn(shape) * 0.01 for shape in shapes]


def get_params():
    return _PARAMS


def apply_sgd(grads, lr):
    with torch.no_grad():
        for p, g in zip(_PARAMS, grads):
            p.add_(g, alpha=-lr)
    return True


def rpc_options(transport, threads):
    # Sockets only, as between machines: no shared memory or CMA. The choice
    # must go to the constructor: the options object has no such properties,
    # and setting options._transports afterwards only adds a Python attribute
    # that TensorPipe never reads (the shared-memory transports stay on).
    sockets_only = ({"_transports": ["uv"], "_channels": ["basic"]}
                    if transport == "tcp" else {})
    return rpc.TensorPipeRpcBackendOptions(num_worker_threads=threads,
                                           rpc_timeout=600, **sockets_only)


def tune_malloc_of_children():
    """glibc keeps freed memory for reuse in processes started from here on,
    with the settings ps_server applies to itself (mmap threshold 32 MiB,
    trim threshold 256 MiB): read by glibc when each process starts."""
    os.environ["GLIBC_TUNABLES"] = ("glibc.malloc.mmap_threshold=33554432:"
                                    "glibc.malloc.trim_threshold=268435456")


def _run(rank, world, port, args, shapes, results):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    options = rpc_options(args.transport, 16)
    if rank == 0:
        _init_params(shapes)
        rpc.init_rpc("ps", rank=0, world_size=world, rpc_backend_options=options)
        rpc.shutdown()
        return
    rpc.init_rpc(f"worker{rank}", rank=rank, world_size=world,
                 rpc_backend_options=options)
    grads = [torch.full(shape, 1e-3) for shape in shapes]

    def step():
        params = rpc.rpc_sync("ps", get_params)
        assert len(params) == len(shapes)
        rpc.rpc_sync("ps", apply_sgd, args=(grads, 0.01))

    results[rank] = time_steps(step, args.warmup, args.min_steps,
                               args.min_seconds)
    rpc.shutdown()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--transport", choices=["tcp", "default"],
                        default="tcp")
    parser.add_argument(
        "--malloc", choices=["default", "tuned"], default="default",
        help="tuned: glibc keeps freed memory for reuse in the spawned "
        "processes, with the settings ps_server applies to itself (mmap "
        "threshold 32 MiB, trim threshold 256 MiB), so received tensors "
        "do not fault fresh pages in on every step")
    parser.add_argument("--model", choices=["resnet50", "single64mb"],
                        default="resnet50")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min_steps", type=int, default=5)
    parser.add_argument("--min_seconds", type=float, default=5.0)
    args = parser.parse_args()
    shapes = (resnet50_shapes() if args.model == "resnet50" else
              [[16 * 1024 * 1024]])
    if args.malloc == "tuned":
        tune_malloc_of_children()
    world = args.workers + 1
    manager = mp.Manager()
    results = manager.dict()
    port = free_port()
    mp.spawn(_run, args=(world, port, args, shapes, results), nprocs=world,
             join=True)
    per_worker = [results[r][0] / results[r][1] for r in range(1, world)]
    num_bytes = sum(4 * torch.Size(s).numel() for s in shapes)
    print(json.dumps({
        "peer": f"torch.distributed.rpc ({args.transport}"
                + (", malloc tuned)" if args.malloc == "tuned" else ")"),
        "model": args.model,
        "variables": len(shapes),
        "bytes": num_bytes,
        "workers": args.workers,
        "steps_per_second": sum(per_worker),
        "per_worker": per_worker,
    }))


if __name__ == "__main__":
    main()

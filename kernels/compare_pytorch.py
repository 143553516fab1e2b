#!/usr/bin/python3
"""The image filter's forward pass or training step in PyTorch eager mode.

Same computation as image_filter_benchmark: conv(5x5, 32->32, SAME, bias)
-> ReLU -> conv -> ReLU, fp32, on 1x224x224x32 and 8x64x64x32, with 1 thread
and all cores. --mode=train times a training step instead: the forward
pass, the mean squared error against targets and, with autograd, the
gradients of the four parameters (not of the input), as
ImageFilterTraining::LossAndGradients. Both memory formats are timed
(channels_last and NCHW) and the faster one is reported, so PyTorch is
shown at its best.

Prints one JSON object per line:
  {"mode": "forward", "batch": 1, "hw": 224, "threads": 1, "gflops": ...,
   "format": ..., "ms": ...}

Run with Debian's interpreter (apt-get install python3-torch):
  /usr/bin/python3 kernels/compare_pytorch.py [--min_time 2] [--repeats 3]
"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

CHANNELS = 32
KERNEL = 5
CASES = [(1, 224), (8, 64)]


def flops(mode, batch, hw):
    """2*N*OH*OW*KH*KW*IC*OC per convolution: two for the forward pass,
    five for a training step (two forward, conv2's data gradient, both
    weight gradients)."""
    convolutions = 5 if mode == "train" else 2
    return convolutions * (2.0 * batch * hw * hw * KERNEL * KERNEL *
                           CHANNELS * CHANNELS)


def make_filter(mode, memory_format, targets):
    torch.manual_seed(0)
    shape = (CHANNELS, CHANNELS, KERNEL, KERNEL)
    w1 = (torch.rand(shape) * 0.2 - 0.1).contiguous(memory_format=memory_format)
    w2 = (torch.rand(shape) * 0.2 - 0.1).contiguous(memory_format=memory_format)
    b1 = torch.rand(CHANNELS) * 0.2 - 0.1
    b2 = torch.rand(CHANNELS) * 0.2 - 0.1
    params = [w1, b1, w2, b2]

    def image_filter(x):
        y = F.relu(F.conv2d(x, w1, b1, padding=KERNEL // 2))
        return F.relu(F.conv2d(y, w2, b2, padding=KERNEL // 2))

    if mode == "forward":
        return image_filter
    for p in params:
        p.requires_grad_(True)

    def training_step(x):
        loss = F.mse_loss(image_filter(x), targets)
        return torch.autograd.grad(loss, params)

    return training_step


CLOCK = time.perf_counter  # --clock=cpu: time.process_time.


def seconds_per_call(fn, x, min_time):
    """Mean time of fn(x) over a batch of calls lasting >= min_time."""
    fn(x)  # Warm-up: primitive creation, allocations.
    calls, start = 0, CLOCK()
    while True:
        fn(x)
        calls += 1
        elapsed = CLOCK() - start
        if elapsed >= min_time:
            return elapsed / calls


def best_gflops(mode, batch, hw, min_time, repeats):
    """Best (GFLOP/s, format, ms) over memory formats and repeats."""
    best = (0.0, "", 0.0)
    for name, memory_format in (("channels_last", torch.channels_last),
                                ("nchw", torch.contiguous_format)):
        x = (torch.rand(batch, CHANNELS, hw, hw) * 0.2 - 0.1).contiguous(
            memory_format=memory_format)
        targets = torch.rand(batch, CHANNELS, hw, hw).contiguous(
            memory_format=memory_format)
        fn = make_filter(mode, memory_format, targets)
        for _ in range(repeats):
            s = seconds_per_call(fn, x, min_time)
            best = max(best, (flops(mode, batch, hw) / s * 1e-9, name, s * 1e3))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min_time", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="*",
                        default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--mode", choices=["forward", "train"],
                        default="forward")
    parser.add_argument("--case", nargs="*", default=None,
                        help="BATCHxHW cases, e.g. 8x64 (default: all)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU seconds instead of wall time "
                        "(meaningful with 1 thread on a shared machine)")
    args = parser.parse_args()
    if args.clock == "cpu":
        global CLOCK
        CLOCK = time.process_time
    cases = CASES
    if args.case:
        cases = [tuple(int(v) for v in c.split("x")) for c in args.case]
    with torch.inference_mode(args.mode == "forward"):
        for batch, hw in cases:
            for threads in args.threads:
                torch.set_num_threads(threads)
                gflops, fmt, ms = best_gflops(args.mode, batch, hw,
                                              args.min_time, args.repeats)
                print(json.dumps({"mode": args.mode, "batch": batch, "hw": hw,
                                  "threads": threads, "gflops": gflops,
                                  "format": fmt, "ms": ms}), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""TFLM side of `cargo xtask bench`: median nanoseconds per invoke of the
TFLite-Micro interpreter (reference kernels) on MODEL, its inputs read from
raw files (one per model input, in the input's dtype). Prints the median and
the least nanoseconds per invoke over the rounds.

    python xtask/bench/tflm_bench.py MODEL.tflite ROUNDS ROUND_MS IN0.bin [IN1.bin ..]

The inputs are set once; each round times a loop of invokes long enough to
take about ROUND_MS of this thread's CPU time (so that on a shared machine
the time it was preempted does not count), and Python's per-call overhead is
the loop and the call into the interpreter only, not the input copy.
"""

import statistics
import sys
import time

import numpy as np
from tflite_micro import runtime


def main() -> None:
    model, rounds, round_ms, files = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
    interp = runtime.Interpreter.from_bytes(open(model, "rb").read(), arena_size=8 << 20)
    for i, path in enumerate(files):
        details = interp.get_input_details(i)
        shape = [int(v) for v in details["shape"]]
        x = np.fromfile(path, dtype=details["dtype"]).reshape(shape)
        interp.set_input(np.ascontiguousarray(x), i)
    invoke = interp.invoke
    invoke()
    start = time.thread_time_ns()
    invoke()
    one = max(time.thread_time_ns() - start, 1)
    count = max(1, int(round_ms * 1e6 / one))
    per_round = []
    for _ in range(rounds):
        start = time.thread_time_ns()
        for _ in range(count):
            invoke()
        per_round.append((time.thread_time_ns() - start) / count)
    print(f"{statistics.median(per_round):.0f} {min(per_round):.0f}")


if __name__ == "__main__":
    main()

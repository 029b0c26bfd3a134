#!/usr/bin/env python3
"""TFLM side of `cargo xtask bench`: median nanoseconds per inference of the
TFLite-Micro interpreter (reference kernels) on MODEL over the int8 digits
in DIGITS.bin (784 bytes each). Prints one number.

    python xtask/bench/tflm_bench.py MODEL.tflite DIGITS.bin
"""

import statistics
import sys
import time

import numpy as np
from tflite_micro import runtime

ROUNDS = 7


def main() -> None:
    model, digits = sys.argv[1], sys.argv[2]
    interp = runtime.Interpreter.from_bytes(open(model, "rb").read(), arena_size=1 << 20)
    shape = [int(v) for v in interp.get_input_details(0)["shape"]]
    samples = np.fromfile(digits, dtype=np.int8).reshape(-1, *shape[1:])[:256]
    inputs = [np.ascontiguousarray(s.reshape(shape)) for s in samples]
    per_round = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for x in inputs:
            interp.set_input(x, 0)
            interp.invoke()
        total = time.perf_counter_ns() - start
        # The Python-side input copy is not TFLM's work: time it alone and subtract.
        start = time.perf_counter_ns()
        for x in inputs:
            interp.set_input(x, 0)
        copy = time.perf_counter_ns() - start
        per_round.append((total - copy) / len(inputs))
    print(f"{statistics.median(per_round):.0f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Records LiteRT's predictions for tinyq's dynamic-range MNIST model.

Runs ``generated/mnist_dynamic.tflite`` (written by ``cargo xtask codegen``)
with LiteRT (``ai-edge-litert``, default kernels: its hybrid kernels quantize
each activation row to int8 on the fly) on the 2,000 held-out digits and
writes the predicted class of each to ``litert_dynamic_predictions.npy``,
which ``cargo xtask codegen`` counts for the README's table. Development
time only; rerun after the dynamic-range model changes::

    python examples/mnist/litert_predictions.py
"""

import pathlib

import numpy as np
from ai_edge_litert import interpreter as litert

here = pathlib.Path(__file__).resolve().parent
images = np.load(here / "data" / "test-images.npy").astype(np.float32) / 255.0
labels = np.load(here / "data" / "test-labels.npy")
it = litert.Interpreter(model_path=str(here / "generated" / "mnist_dynamic.tflite"))
it.allocate_tensors()
inp, out = it.get_input_details()[0], it.get_output_details()[0]
predictions = []
for digit in images:
    it.set_tensor(inp["index"], digit.reshape(inp["shape"]))
    it.invoke()
    predictions.append(int(np.argmax(it.get_tensor(out["index"]))))
predictions = np.asarray(predictions, np.uint8)
np.save(here / "litert_dynamic_predictions.npy", predictions)
print(f"LiteRT accuracy on {len(labels)} digits: {np.mean(predictions == labels):.4f}")

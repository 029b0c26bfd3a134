#!/usr/bin/env python3
"""Train the MNIST example model and export it as a float32 .tflite.

Development-time only (needs TensorFlow); the outputs are committed:

* ``mnist_float.tflite``   the float32 model tinyq quantizes
* ``data/calibration.npy`` 200 training digits, float32 in [0, 1], [200, 28, 28, 1]
* ``data/test-images.npy`` / ``data/test-labels.npy``  the 2,000 held-out digits (uint8)

Run from the repository root:

    python examples/mnist/train.py --mnist ../shared/data/mnist

The digits are the 10,000 real MNIST digits of the shared data set: the first
8,000 train the model (and provide the calibration subset), the last 2,000
are the test set.
"""

import argparse
import gzip
import pathlib

import numpy as np
import tensorflow as tf

HERE = pathlib.Path(__file__).resolve().parent


def load_idx(folder: pathlib.Path):
    images = np.frombuffer(
        gzip.open(folder / "mnist-10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16
    ).reshape(-1, 28, 28)
    labels = np.frombuffer(
        gzip.open(folder / "mnist-10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8
    )
    return images, labels


def build_model() -> tf.keras.Model:
    inputs = tf.keras.Input(shape=(28, 28, 1), batch_size=1, name="image")
    x = tf.keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(64, activation="relu")(x)
    outputs = tf.keras.layers.Dense(10, activation="softmax", name="digit")(x)
    return tf.keras.Model(inputs, outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=pathlib.Path, required=True)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()

    tf.keras.utils.set_random_seed(7)
    images, labels = load_idx(args.mnist)
    x = images.astype(np.float32)[..., None] / 255.0
    x_train, y_train = x[:8000], labels[:8000]
    x_test, y_test = x[8000:], labels[8000:]

    # Train with a free batch size, then export a batch-1 model for firmware.
    trainer = tf.keras.Sequential([tf.keras.Input(shape=(28, 28, 1))] + build_model().layers[1:])
    trainer.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    trainer.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=2)
    _, keras_acc = trainer.evaluate(x_test, y_test, verbose=0)

    model = build_model()
    for dst, src in zip(model.layers[1:], trainer.layers):
        dst.set_weights(src.get_weights())

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    flat = converter.convert()
    (HERE / "mnist_float.tflite").write_bytes(flat)

    data = HERE / "data"
    data.mkdir(exist_ok=True)
    np.save(data / "calibration.npy", x_train[:200])
    np.save(data / "test-images.npy", images[8000:])
    np.save(data / "test-labels.npy", labels[8000:])
    print(f"keras test accuracy {keras_acc:.4f}; float model {len(flat)} bytes")


if __name__ == "__main__":
    main()

"""The peer side of `millstream-bench learn`: the same data and workloads in Keras 3 (TensorFlow 2.21) and onnxruntime.

Usage: keras_side.py DIR make-data | keras | onnxruntime MODEL.onnx
  make-data   writes the workloads' data (float32 little-endian .bin files) and meta.json into DIR
  keras       fits the workloads in Keras (5 seeds for the parity ones), times single-sample calls, writes keras.json
  onnxruntime times MODEL.onnx (a Millstream export of the 16-64-64-1 model): single sample and batch 1024
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

DIR = sys.argv[1]
WORKLOADS = {
    # name: rows, features, classes, layers (units, dropout), epochs, batch
    "binary_1000x10": dict(rows=1000, features=10, classes=2, layers=[(64, 0.0)], epochs=10, batch=32),
    "multiclass_1000x20": dict(rows=1000, features=20, classes=3, layers=[(128, 0.3), (64, 0.2)], epochs=20, batch=64),
    "binary_100000x16": dict(rows=100_000, features=16, classes=2, layers=[(64, 0.0), (64, 0.0)], epochs=5, batch=256),
}


def make_data():
    rng = np.random.default_rng(2026)
    for name, w in WORKLOADS.items():
        x = rng.normal(size=(w["rows"], w["features"])).astype(np.float32)
        if w["classes"] == 2:
            weights = rng.normal(size=w["features"])
            # Real signal with noise and an interaction, so accuracy is well below 100 %.
            score = x @ weights + 0.8 * x[:, 0] * x[:, 1] + 1.0 * rng.normal(size=w["rows"])
            y = (score > 0).astype(np.float32)
        else:
            weights = rng.normal(size=(w["features"], w["classes"]))
            y = np.argmax(x @ weights + 1.5 * rng.normal(size=(w["rows"], w["classes"])), axis=1).astype(np.float32)
        x.tofile(os.path.join(DIR, name + ".x.bin"))
        y.tofile(os.path.join(DIR, name + ".y.bin"))
    json.dump(WORKLOADS, open(os.path.join(DIR, "meta.json"), "w"))


def keras_side():
    import tensorflow as tf
    import keras

    results = {"versions": {"tensorflow": tf.__version__, "keras": keras.__version__}}
    for name, w in WORKLOADS.items():
        x = np.fromfile(os.path.join(DIR, name + ".x.bin"), dtype=np.float32).reshape(w["rows"], w["features"])
        y = np.fromfile(os.path.join(DIR, name + ".y.bin"), dtype=np.float32)
        seeds = [0, 1, 2, 3, 4] if w["rows"] <= 1000 else [0]
        accuracies, times = [], []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            layers = [keras.Input((w["features"],))]
            for units, rate in w["layers"]:
                layers.append(keras.layers.Dense(units, activation="relu"))
                if rate:
                    layers.append(keras.layers.Dropout(rate))
            binary = w["classes"] == 2
            layers.append(keras.layers.Dense(1 if binary else w["classes"], activation="sigmoid" if binary else "softmax"))
            model = keras.Sequential(layers)
            model.compile(optimizer="adam", loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            start = time.perf_counter()
            history = model.fit(x, y, epochs=w["epochs"], batch_size=w["batch"], validation_split=0.2, verbose=0)
            times.append(time.perf_counter() - start)
            accuracies.append(history.history["val_accuracy"][-1])
        results[name] = {"fit_seconds": times[0], "val_accuracy": accuracies}
        if name == "binary_100000x16":
            sample = x[:1]
            for _ in range(50):
                model(sample, training=False)
            calls = []
            for i in range(1000):
                s = x[i:i + 1]
                t = time.perf_counter()
                model(s, training=False)
                calls.append(time.perf_counter() - t)
            fn = tf.function(lambda v: model(v, training=False))
            fn(sample)
            calls_fn = []
            for i in range(3000):
                s = x[i:i + 1]
                t = time.perf_counter()
                fn(s)
                calls_fn.append(time.perf_counter() - t)
            results["single_sample"] = {
                "call_median_us": float(np.median(calls) * 1e6), "call_p99_us": float(np.percentile(calls, 99) * 1e6),
                "tf_function_median_us": float(np.median(calls_fn) * 1e6),
                "tf_function_p99_us": float(np.percentile(calls_fn, 99) * 1e6),
            }
    json.dump(results, open(os.path.join(DIR, "keras.json"), "w"))


def onnxruntime_side(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    w = WORKLOADS["binary_100000x16"]
    x = np.fromfile(os.path.join(DIR, "binary_100000x16.x.bin"), dtype=np.float32).reshape(w["rows"], w["features"])
    for _ in range(100):
        session.run(["output"], {"input": x[:1]})
    calls = []
    for i in range(20000):
        s = x[i:i + 1]
        t = time.perf_counter()
        session.run(["output"], {"input": s})
        calls.append(time.perf_counter() - t)
    batch = x[:1024]
    for _ in range(20):
        session.run(["output"], {"input": batch})
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < 2:
        session.run(["output"], {"input": batch})
        n += 1
    elapsed = time.perf_counter() - t
    out = {"single_median_us": float(np.median(calls) * 1e6), "single_p99_us": float(np.percentile(calls, 99) * 1e6),
           "batch1024_samples_per_s": n * 1024 / elapsed, "version": ort.__version__}
    json.dump(out, open(os.path.join(DIR, "onnxruntime.json"), "w"))


{"make-data": make_data, "keras": keras_side}.get(sys.argv[2], lambda: onnxruntime_side(sys.argv[3]))()

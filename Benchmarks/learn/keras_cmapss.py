"""The peer side of `millstream-bench cmapss`: Keras 3 (TensorFlow 2.21) on the windows Millstream wrote to DIR.

Usage: keras_cmapss.py DIR
Reads x_train.bin, y_train.bin, units.bin, x_test.bin, y_test.bin and meta.json (float32); per seed: splits the
engines as Millstream's trainer does (20 % test, then 20 % of the rest for validation, whole engines), fits Dense
64-64-1 (ReLU, Adam 1e-3, MSE, batch 32, at most 60 epochs, early stopping with patience 10 restoring the best
weights) `ensemble` times from different initial weights and averages their predictions, as Millstream's
`--ensemble` does, and writes keras.json: RMSE, PHM08 score and fit seconds (all members) per seed.
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

DIR = sys.argv[1]
meta = json.load(open(os.path.join(DIR, "meta.json")))
f = meta["features"]


def load(name, shape):
    return np.fromfile(os.path.join(DIR, name), dtype=np.float32).reshape(shape)


x = load("x_train.bin", (-1, f))
y = load("y_train.bin", (-1,))
units = load("units.bin", (-1,))
x_test = load("x_test.bin", (-1, f))
y_test = load("y_test.bin", (-1,)).astype(np.float64)

import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
runs = []
for seed in range(meta["seeds"]):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    engines = rng.permutation(np.unique(units))
    n_test = int(round(0.2 * len(engines)))
    rest = engines[n_test:]
    n_valid = int(round(0.2 * len(rest)))
    valid, train = set(rest[:n_valid]), set(rest[n_valid:])
    t_mask = np.array([u in train for u in units])
    v_mask = np.array([u in valid for u in units])
    seconds = 0.0
    p = np.zeros(len(x_test))
    for member in range(meta.get("ensemble", 1)):
        keras.utils.set_random_seed(seed * 1000 + member)
        model = keras.Sequential([
            keras.Input((f,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        start = time.perf_counter()
        model.fit(
            x[t_mask], y[t_mask], validation_data=(x[v_mask], y[v_mask]), epochs=60, batch_size=32, verbose=0,
            callbacks=[keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)])
        seconds += time.perf_counter() - start
        p += model.predict(x_test, verbose=0)[:, 0].astype(np.float64) / meta.get("ensemble", 1)
    d = p - y_test
    score = float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))
    runs.append({"rmse": float(np.sqrt(np.mean(d * d))), "score": score, "fit_seconds": seconds})
json.dump({"versions": {"tensorflow": tf.__version__, "keras": keras.__version__}, "runs": runs},
          open(os.path.join(DIR, "keras.json"), "w"))

"""Makes the Keras fixtures of the sequence layers: Conv1D and GRU models with random weights, inputs and Keras's
outputs, for the parity test in Tests/LearnTests/KerasSequenceTests.swift.

Run once with TensorFlow 2.21 and Keras 3 (scripts/bench-venv installs them):
    .venv/bin/python Tests/LearnTests/Fixtures/make_sequence_fixtures.py
Writes keras_sequence.json beside this file: per model, each layer's weights (flattened, Keras's shapes), the inputs
(each sample's sequence flattened time-major) and Keras's outputs.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
keras.utils.set_random_seed(11)
rng = np.random.default_rng(11)


def fixture(model, steps, channels, samples=6):
    # Random weights (biases too) so that every term of the layers' equations is exercised.
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    x = rng.normal(size=(samples, steps, channels)).astype("float32")
    y = model.predict(x, verbose=0)
    layers = []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        layers.append({
            "type": type(layer).__name__,
            "weights": [{"shape": list(w.shape), "values": w.astype("float64").ravel().tolist()} for w in weights],
        })
    return {
        "steps": steps, "channels": channels, "layers": layers,
        "x": x.reshape(samples, -1).astype("float64").tolist(), "y": y.astype("float64").tolist(),
    }


conv = keras.Sequential([
    keras.Input((12, 3)),
    keras.layers.Conv1D(4, 3, padding="same", activation="relu"),
    keras.layers.Conv1D(2, 5, padding="valid", activation="tanh"),
    keras.layers.Flatten(),
    keras.layers.Dense(1),
])
gru = keras.Sequential([
    keras.Input((10, 3)),
    keras.layers.GRU(5, return_sequences=True),
    keras.layers.GRU(4),
    keras.layers.Dense(2, activation="tanh"),
])
conv_gru = keras.Sequential([
    keras.Input((9, 2)),
    keras.layers.Conv1D(3, 4, padding="same", activation="relu"),
    keras.layers.GRU(6),
    keras.layers.Dense(1, activation="sigmoid"),
])
out = {
    "versions": {"keras": keras.__version__, "numpy": np.__version__},
    "conv": fixture(conv, 12, 3), "gru": fixture(gru, 10, 3), "conv_gru": fixture(conv_gru, 9, 2),
}
with open(os.path.join(HERE, "keras_sequence.json"), "w") as f:
    json.dump(out, f, indent=1)

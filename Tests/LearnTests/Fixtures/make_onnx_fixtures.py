"""Makes the ONNX fixtures of the Learn tests: Keras models converted with tf2onnx, and TensorFlow's outputs.

Run once with TensorFlow 2.21, Keras 3 and tf2onnx 1.17 (scripts/bench-venv installs them):
    .venv/bin/python Tests/LearnTests/Fixtures/make_onnx_fixtures.py
Writes keras_softmax.onnx, keras_binary.onnx, keras_conv_lstm.onnx (a sequence model: input (batch, steps,
channels)) and keras_outputs.json beside this file. Sequence inputs are stored flattened time-major, as Millstream
takes them.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf2onnx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)


def convert(model, features, name):
    shape = (None,) + (features if isinstance(features, tuple) else (features,))
    spec = (tf.TensorSpec(shape, tf.float32, name="input"),)

    @tf.function(input_signature=spec)
    def serve(x):
        return model(x, training=False)

    tf2onnx.convert.from_function(serve, input_signature=spec, opset=13, output_path=os.path.join(HERE, name))


softmax = keras.Sequential([
    keras.Input((6,)),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.BatchNormalization(),
    keras.layers.Dense(8, activation="tanh"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(3, activation="softmax"),
])
softmax.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
x = rng.normal(size=(256, 6)).astype("float32")
softmax.fit(x, (x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 1), epochs=3, verbose=0)

binary = keras.Sequential([
    keras.Input((5,)),
    keras.layers.Dense(12),
    keras.layers.LeakyReLU(negative_slope=0.2),
    keras.layers.Dense(1, activation="sigmoid"),
])
binary.compile(optimizer="adam", loss="binary_crossentropy")
xb = rng.normal(size=(256, 5)).astype("float32")
binary.fit(xb, (xb[:, 0] * xb[:, 1] > 0).astype("float32"), epochs=3, verbose=0)

# Conv1D (both paddings) under two LSTMs: tf2onnx writes Conv (2-D, height 1) between Unsqueeze/Transpose/Squeeze
# and ONNX's LSTM with Shape/Slice/Concat/Expand for the initial states. (It writes Keras 3's GRU as a Loop, which
# Millstream's interpreter does not run.)
conv_lstm = keras.Sequential([
    keras.Input((10, 3)),
    keras.layers.Conv1D(4, 3, padding="same", activation="relu"),
    keras.layers.Conv1D(3, 2, padding="valid", activation="tanh"),
    keras.layers.LSTM(5, return_sequences=True),
    keras.layers.LSTM(4),
    keras.layers.Dense(2, activation="sigmoid"),
])
conv_lstm.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in conv_lstm.get_weights()])

convert(softmax, 6, "keras_softmax.onnx")
convert(conv_lstm, (10, 3), "keras_conv_lstm.onnx")
convert(binary, 5, "keras_binary.onnx")
test_softmax = rng.normal(size=(20, 6)).astype("float32")
test_binary = rng.normal(size=(20, 5)).astype("float32")
test_sequence = rng.normal(size=(8, 10, 3)).astype("float32")
out = {
    "softmax": {"inputs": test_softmax.tolist(), "outputs": softmax(test_softmax, training=False).numpy().tolist()},
    "binary": {"inputs": test_binary.tolist(), "outputs": binary(test_binary, training=False).numpy().tolist()},
    "conv_lstm": {
        "inputs": test_sequence.reshape(8, -1).tolist(),
        "outputs": conv_lstm(test_sequence, training=False).numpy().tolist(),
    },
    "made_with": {"tensorflow": tf.__version__, "keras": keras.__version__, "tf2onnx": tf2onnx.__version__},
}
with open(os.path.join(HERE, "keras_outputs.json"), "w") as f:
    json.dump(out, f, indent=1)
print("wrote fixtures with", out["made_with"])

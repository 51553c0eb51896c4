"""Makes onnx_recurrent.onnx and onnx_recurrent.json: ONNX's own GRU (linear_before_reset 0, which Keras's
converters never write) and LSTM (with peepholes and initial states) on random weights, with onnxruntime's outputs,
for Tests/LearnTests/ONNXTests.swift.

Run once with onnx and onnxruntime (scripts/bench-venv installs them):
    .venv/bin/python Tests/LearnTests/Fixtures/make_recurrent_fixture.py
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(21)
steps, channels, gru_units, lstm_units, batch = 6, 3, 4, 3, 5


def weights(name, *shape):
    return numpy_helper.from_array(rng.normal(scale=0.5, size=shape).astype("float32"), name)


initializers = [
    weights("gru_w", 1, 3 * gru_units, channels),
    weights("gru_r", 1, 3 * gru_units, gru_units),
    weights("gru_b", 1, 6 * gru_units),
    weights("lstm_w", 1, 4 * lstm_units, gru_units),
    weights("lstm_r", 1, 4 * lstm_units, lstm_units),
    weights("lstm_b", 1, 8 * lstm_units),
    weights("lstm_p", 1, 3 * lstm_units),
    numpy_helper.from_array(np.array([0], dtype="int64"), "axis0"),
    numpy_helper.from_array(np.array([1], dtype="int64"), "axis1"),
    numpy_helper.from_array(np.zeros((1, batch, lstm_units), dtype="float32") + 0.1, "h0"),
    numpy_helper.from_array(np.zeros((1, batch, lstm_units), dtype="float32") - 0.2, "c0"),
]
nodes = [
    helper.make_node("Transpose", ["input"], ["x_tnc"], perm=[1, 0, 2]),
    helper.make_node(
        "GRU", ["x_tnc", "gru_w", "gru_r", "gru_b"], ["gru_y", ""], hidden_size=gru_units, linear_before_reset=0),
    helper.make_node("Squeeze", ["gru_y", "axis1"], ["gru_seq"]),
    helper.make_node(
        "LSTM", ["gru_seq", "lstm_w", "lstm_r", "lstm_b", "", "h0", "c0", "lstm_p"], ["", "lstm_h", ""],
        hidden_size=lstm_units),
    helper.make_node("Squeeze", ["lstm_h", "axis0"], ["output"]),
]
graph = helper.make_graph(
    nodes, "recurrent", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, steps, channels])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, lstm_units])], initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_recurrent_fixture", ir_version=8)
onnx.checker.check_model(model)
onnx.save(model, os.path.join(HERE, "onnx_recurrent.onnx"))
x = rng.normal(size=(batch, steps, channels)).astype("float32")
y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
with open(os.path.join(HERE, "onnx_recurrent.json"), "w") as f:
    json.dump({"inputs": x.reshape(batch, -1).tolist(), "outputs": y.tolist(), "onnxruntime": ort.__version__}, f)
print("wrote onnx_recurrent.onnx and onnx_recurrent.json with onnxruntime", ort.__version__)

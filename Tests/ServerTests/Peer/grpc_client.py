"""The gRPC predict test's clients: grpcio with TensorFlow Serving's messages (compiled here from
Sources/ServingProto/tensorflow_serving.proto by grpcio-tools), and Triton's own Python client (tritonclient.grpc,
its own generated code for the Open Inference Protocol), against Millstream's gRPC port.

    grpc_client.py PORT TOKEN INPUTS_JSON

INPUTS_JSON: {"keras": {"name": MODEL, "input": NAME, "rows": [[...]]}, "tabular": {"name": MODEL, "x1": [...],
"x2": [...], "kind": [...]}}. Prints one JSON object: the answers and the status code of each refused call.
"""
import json
import os
import subprocess
import sys
import tempfile

import grpc
import numpy as np

port, token, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
target = f"127.0.0.1:{port}"
auth = [("authorization", f"Bearer {token}")]
protos = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../Sources/ServingProto")
out = tempfile.mkdtemp()
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{protos}", f"--python_out={out}",
                f"--grpc_python_out={out}", "tensorflow_serving.proto"], check=True)
sys.path.insert(0, out)
import tensorflow_serving_pb2 as tfs  # noqa: E402
import tensorflow_serving_pb2_grpc as tfs_grpc  # noqa: E402

result = {}
channel = grpc.insecure_channel(target)
stub = tfs_grpc.PredictionServiceStub(channel)


def tensor(values, dtype=tfs.DT_FLOAT, content=False):
    a = np.asarray(values, dtype=np.float32)
    t = tfs.TensorProto(dtype=dtype, tensor_shape=tfs.TensorShapeProto(
        dim=[tfs.TensorShapeProto.Dim(size=n) for n in a.shape]))
    if content:
        t.tensor_content = a.astype("<f4").tobytes()
    else:
        t.float_val.extend(a.ravel().tolist())
    return t


def outputs(response):
    (name, t), = response.outputs.items()
    shape = [d.size for d in t.tensor_shape.dim]
    return name, np.asarray(t.float_val, dtype=np.float64).reshape(shape).tolist()


keras = spec["keras"]
# A single feature-vector input: float_val, then tensor_content; by label.
request = tfs.PredictRequest(model_spec=tfs.ModelSpec(name=keras["name"]))
request.inputs[keras["input"]].CopyFrom(tensor(keras["rows"]))
result["tfs_float_val"] = outputs(stub.Predict(request, metadata=auth))
request = tfs.PredictRequest(model_spec=tfs.ModelSpec(name=keras["name"], version_label="production"))
request.inputs[keras["input"]].CopyFrom(tensor(keras["rows"], content=True))
result["tfs_tensor_content"] = outputs(stub.Predict(request, metadata=auth))
# Named raw columns, a string column among them.
tab = spec["tabular"]
request = tfs.PredictRequest(model_spec=tfs.ModelSpec(name=tab["name"]))
request.inputs["x1"].CopyFrom(tensor(tab["x1"]))
request.inputs["x2"].CopyFrom(tensor(tab["x2"]))
request.inputs["kind"].CopyFrom(tfs.TensorProto(
    dtype=tfs.DT_STRING, tensor_shape=tfs.TensorShapeProto(dim=[tfs.TensorShapeProto.Dim(size=len(tab["kind"]))]),
    string_val=[k.encode() for k in tab["kind"]]))
result["tfs_named"] = outputs(stub.Predict(request, metadata=auth))


def refused(name, call):
    try:
        call()
        result[name] = "OK"
    except grpc.RpcError as e:
        result[name] = e.code().name
        result[name + "_message"] = e.details()


good = tfs.PredictRequest(model_spec=tfs.ModelSpec(name=keras["name"]))
good.inputs[keras["input"]].CopyFrom(tensor(keras["rows"]))
refused("no_token", lambda: stub.Predict(good))
refused("bad_token", lambda: stub.Predict(good, metadata=[("authorization", "Bearer ms_nothing")]))
unknown = tfs.PredictRequest(model_spec=tfs.ModelSpec(name="nothing"))
unknown.inputs["x"].CopyFrom(tensor([[1.0]]))
refused("unknown_model", lambda: stub.Predict(unknown, metadata=auth))
narrow = tfs.PredictRequest(model_spec=tfs.ModelSpec(name=keras["name"]))
narrow.inputs[keras["input"]].CopyFrom(tensor([[1.0, 2.0]]))
refused("wrong_width", lambda: stub.Predict(narrow, metadata=auth))
missing = tfs.PredictRequest(model_spec=tfs.ModelSpec(name=tab["name"]))
missing.inputs["x1"].CopyFrom(tensor(tab["x1"]))
refused("missing_input", lambda: stub.Predict(missing, metadata=auth))

# The Open Inference Protocol with Triton's client.
import tritonclient.grpc as triton  # noqa: E402

client = triton.InferenceServerClient(url=target)
headers = {"authorization": f"Bearer {token}"}
result["oip_live"] = client.is_server_live()
result["oip_ready"] = client.is_server_ready()
result["oip_model_ready"] = client.is_model_ready(keras["name"], headers=headers)
result["oip_unknown_ready"] = client.is_model_ready("nothing", headers=headers)
rows = np.asarray(keras["rows"], dtype=np.float32)
# Triton's client sends raw_input_contents.
x = triton.InferInput(keras["input"], list(rows.shape), "FP32")
x.set_data_from_numpy(rows)
answer = client.infer(keras["name"], [x], headers=headers, request_id="r1")
name = answer.get_response().outputs[0].name
result["oip_raw"] = [name, answer.as_numpy(name).astype(np.float64).tolist(), answer.get_response().id]
# The protocol's typed contents, with Triton's generated messages on a plain grpcio channel.
from tritonclient.grpc import service_pb2, service_pb2_grpc  # noqa: E402

request = service_pb2.ModelInferRequest(model_name=keras["name"], model_version="production")
tensor_in = request.inputs.add(name=keras["input"], datatype="FP32", shape=list(rows.shape))
tensor_in.contents.fp32_contents.extend(rows.ravel().tolist())
reply = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=auth)
o = reply.outputs[0]
result["oip_contents"] = [o.name, np.asarray(o.contents.fp32_contents, dtype=np.float64).reshape(
    list(o.shape)).tolist(), reply.model_version]
try:
    x = triton.InferInput(keras["input"], list(rows.shape), "FP32")
    x.set_data_from_numpy(rows)
    client.infer(keras["name"], [x])
    result["oip_no_token"] = "OK"
except triton.InferenceServerException as e:
    result["oip_no_token"] = e.status()
print(json.dumps(result))

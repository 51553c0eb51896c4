"""The gRPC peer of `millstream-bench serve`: the same model in onnxruntime behind grpcio, speaking TensorFlow
Serving's PredictionService/Predict (messages compiled at start from Sources/ServingProto/tensorflow_serving.proto,
the ones Millstream serves), one server process per core sharing the port (SO_REUSEPORT), each with a thread pool.

    .venv/bin/python Benchmarks/serve/ort_grpc_server.py MODEL.onnx PORT [PROCESSES]
"""
import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from concurrent import futures

import grpc
import numpy as np
import onnxruntime as ort

model_path, port = sys.argv[1], int(sys.argv[2])
processes = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count() or 1
protos = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Sources/ServingProto")
out = tempfile.mkdtemp()
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{protos}", f"--python_out={out}",
                f"--grpc_python_out={out}", "tensorflow_serving.proto"], check=True)
sys.path.insert(0, out)
import tensorflow_serving_pb2 as tfs  # noqa: E402
import tensorflow_serving_pb2_grpc as tfs_grpc  # noqa: E402


class Predictor(tfs_grpc.PredictionServiceServicer):
    def __init__(self):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.output = self.session.get_outputs()[0].name

    def Predict(self, request, context):
        (_, t), = request.inputs.items()
        shape = [d.size for d in t.tensor_shape.dim]
        x = (np.frombuffer(t.tensor_content, dtype="<f4") if t.tensor_content
             else np.asarray(t.float_val, dtype=np.float32)).reshape(shape)
        y = self.session.run(None, {self.input: x})[0]
        answer = tfs.PredictResponse(model_spec=request.model_spec)
        o = answer.outputs[self.output]
        o.dtype = tfs.DT_FLOAT
        o.tensor_shape.dim.extend([tfs.TensorShapeProto.Dim(size=n) for n in y.shape])
        o.float_val.extend(y.ravel().tolist())
        return answer


def serve():
    # Dies with the parent (the benchmark stops the parent with SIGKILL): prctl(PR_SET_PDEATHSIG, SIGKILL).
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.so_reuseport", 1)])
    tfs_grpc.add_PredictionServiceServicer_to_server(Predictor(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    workers = [multiprocessing.Process(target=serve) for _ in range(processes)]
    for w in workers:
        w.start()
    print("ready", flush=True)
    for w in workers:
        w.join()

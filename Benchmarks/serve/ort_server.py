"""The peer of `millstream-bench serve`: the same model in onnxruntime behind a minimal Python HTTP server that
speaks TensorFlow Serving's row format (POST /v1/models/NAME:predict {"instances": [...]} -> {"predictions": ...}).

    .venv/bin/python Benchmarks/serve/ort_server.py MODEL.onnx PORT

Prints "ready" once listening. HTTP/1.1 keep-alive, one thread per connection (ThreadingHTTPServer).
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnxruntime as ort

options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this the answer's body waits for the ACK of its headers (Nagle + delayed ACK: 40 ms a request).
    disable_nagle_algorithm = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length))
            x = np.asarray(body["instances"], dtype=np.float32)
            y = session.run(None, {input_name: x})[0]
            answer, status = json.dumps({"predictions": y.tolist()}).encode(), 200
        except Exception as e:  # the same error shape as TensorFlow Serving
            answer, status = json.dumps({"error": str(e)}).encode(), 400
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.wfile.flush()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
print("ready", flush=True)
server.serve_forever()

"""The peer of `millstream-bench serve`: the same model in onnxruntime behind FastAPI on uvicorn (uvloop and
httptools, one worker process per core), speaking TensorFlow Serving's row format
(POST /v1/models/NAME:predict {"instances": [...]} -> {"predictions": ...}). This is the stack a Python team would
put in production for an ONNX model; orjson parses and writes the JSON.

    .venv/bin/python Benchmarks/serve/ort_server.py MODEL.onnx PORT [WORKERS]

WORKERS defaults to the number of cores. GET /healthz answers once a worker is up.
"""
import os
import sys

import numpy as np
import onnxruntime as ort
import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()
session = None
input_name = ""
if os.environ.get("ORT_MODEL"):  # in each worker (uvicorn imports this module there)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one process per core: no thread pool fighting the other workers
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(os.environ["ORT_MODEL"], options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name


@app.get("/healthz")
def healthz() -> Response:
    return Response(b"ok")


@app.post("/v1/models/{name}:predict")
async def predict(name: str, request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
        x = np.asarray(body["instances"], dtype=np.float32)
        y = session.run(None, {input_name: x})[0]
        return Response(orjson.dumps({"predictions": y.tolist()}), media_type="application/json")
    except Exception as e:  # the same error shape as TensorFlow Serving
        return Response(orjson.dumps({"error": str(e)}), status_code=400, media_type="application/json")


if __name__ == "__main__":
    import uvicorn

    model, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count() or 1
    os.environ["ORT_MODEL"] = model  # the workers are new processes: they read the model's path from here
    # This process is uvicorn's supervisor: SIGTERM stops it and its workers.
    uvicorn.run(
        "ort_server:app", host="127.0.0.1", port=port, workers=workers, loop="uvloop", http="httptools",
        log_level="warning", access_log=False, app_dir=os.path.dirname(os.path.abspath(__file__)),
    )

"""The pipeline benchmark's peer on Kafka: a stream processor a Python team would pick, Quix Streams 3.28 (on
librdkafka), on the same broker and the same readings as Millstream's worker.

It consumes `readings` (JSON, as Millstream writes them) in a consumer group, drops readings that are not running
or lack a value, computes the demo's features (the three derived ones and the product's one-hot), applies the
failure model's own preprocessing (read from its model.json: standardization and tree steps, in NumPy), scores the
same model (Millstream's ONNX export) in onnxruntime in micro-batches of BATCH readings, and produces one prediction
per reading to `predictions-quix` (JSON, keyed by machine), at-least-once, as Quix's defaults do.

Quix Streams has no batch operator: the micro-batch is a buffer in an `apply(expand=True)` step that emits BATCH
predictions when it is full (COUNT must be a multiple of BATCH, so no reading is left in the buffer).

    .venv-quix/bin/python Benchmarks/pipeline/quix_side.py BOOTSTRAP COUNT MODEL_JSON MODEL_ONNX [BATCH]

Prints {"readings": N, "readings_per_second": R, "steady_readings_per_second": S}: R from `app.run()` to the last
prediction produced and committed (the group join included), S from the first reading to the last.
"""
import json
import math
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from quixstreams import Application

bootstrap, count = sys.argv[1], int(sys.argv[2])
description = json.load(open(sys.argv[3]))
batch_size = int(sys.argv[5]) if len(sys.argv) > 5 else 500
if count % batch_size:
    sys.exit(f"COUNT ({count}) must be a multiple of BATCH ({batch_size})")

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(sys.argv[4], options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name

pre = description["preprocessing"]
numeric_inputs = pre["numeric_inputs"]
derived = [(d["name"], compile(d["expression"], d["name"], "eval")) for d in pre["derived"]]
offsets = np.asarray(pre["offsets"])
factors = np.asarray(pre["factors"])
edges = pre.get("edges")
scaling = pre["scaling"]
categories = pre["categorical"][0]["categories"] if pre["categorical"] else []
if scaling not in ("standard", "tree_steps"):
    sys.exit(f"the peer implements standard and tree_steps scaling, not {scaling}")


def features(rows):
    """The model's input matrix for a list of readings: the same transform as Millstream's Preprocessing."""
    columns = {name: np.fromiter((r["values"][name] for r in rows), np.float64, len(rows)) for name in numeric_inputs}
    scope = dict(columns, pi=math.pi)
    values = [columns[n] for n in numeric_inputs] + [eval(code, {"__builtins__": {}}, scope) for _, code in derived]
    parts = []
    for f, x in enumerate(values):
        parts.append(((x - offsets[f]) * factors[f])[:, None])
        if scaling == "tree_steps":
            inner = np.asarray(edges[f][1:-1])
            parts.append((x[:, None] >= inner[None, :]).astype(np.float64))
    if categories:
        product = np.fromiter((categories.index(r.get("product")) if r.get("product") in categories else -1
                               for r in rows), np.int64, len(rows))
        parts.append((product[:, None] == np.arange(len(categories))[None, :]).astype(np.float64))
    return np.hstack(parts).astype(np.float32)


buffer = []
seen = 0
first_at = None


def score(reading):
    """Buffers readings; when BATCH are in, scores them at once and emits their predictions."""
    global seen, first_at
    if first_at is None:
        first_at = time.perf_counter()
    seen += 1
    buffer.append(reading)
    if len(buffer) < batch_size:
        return []
    rows = [r for r in buffer if r.get("state") == "running"
            and all(r.get("values", {}).get(n) is not None for n in numeric_inputs)]
    risk = session.run(None, {input_name: features(rows)})[0][:, 0] if rows else []
    scored = {id(r): float(p) for r, p in zip(rows, risk)}
    out = [{"machine": r["machine"], "ts": r["ts"], "risk": scored.get(id(r))} for r in buffer]
    buffer.clear()
    return out


produced = 0


def produced_one(prediction):
    """After the prediction went to the producer: stop once every reading's has."""
    global produced
    produced += 1
    if produced >= count:
        app.stop()  # commits the offsets and flushes the producer


# The same group session timeout as Millstream's consumer (10 s). librdkafka's default is 45 s, and Tansu completes a
# group's first rebalance half a session timeout after it starts (docs/kafka.md): with the default, 22 s of this
# side's start-up were that wait, against 5 s of ours.
app = Application(
    broker_address=bootstrap, consumer_group="quix-bench", auto_offset_reset="earliest", use_changelog_topics=False,
    loglevel="WARNING", consumer_extra_config={"session.timeout.ms": 10000})
readings = app.topic("readings", value_deserializer="json")
predictions = app.topic("predictions-quix", value_serializer="json")
sdf = app.dataframe(readings)
sdf = sdf.apply(score, expand=True)
sdf = sdf.to_topic(predictions, key=lambda p: p["machine"])
sdf = sdf.update(produced_one)
started = time.perf_counter()
app.run()
ended = time.perf_counter()
print(json.dumps({"readings": seen, "predictions": produced, "readings_per_second": seen / (ended - started),
                  "steady_readings_per_second": seen / (ended - first_at) if first_at else 0}))

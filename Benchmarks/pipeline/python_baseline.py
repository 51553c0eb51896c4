"""The reference design's per-message loop, without the bus: parse each reading's JSON, compute the same features,
call a Keras 64-64 MLP on the one sample (as a per-message consumer does) and build the prediction's JSON.

Usage: python_baseline.py READINGS.jsonl COUNT    (prints {"readings_per_second": ...})
Needs the benchmark venv (scripts/bench-venv). The Kafka consumer and producer of the full baseline come with the
Kafka client; without them this loop is an upper bound for the baseline's throughput.
"""
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402

path, count = sys.argv[1], int(sys.argv[2])
lines = open(path).read().splitlines()[:count]
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((11,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model(np.zeros((1, 11), dtype=np.float32))
products = {"L": 0, "M": 1, "H": 2}
out = []
start = time.perf_counter()
for line in lines:
    r = json.loads(line)
    v = r["values"]
    if r.get("state") == "running":
        x = np.zeros((1, 11), dtype=np.float32)
        x[0, :5] = [v["air_temp_k"], v["process_temp_k"], v["rpm"], v["torque_nm"], v["tool_wear_min"]]
        x[0, 5] = v["torque_nm"] * v["rpm"] * 2 * math.pi / 60
        x[0, 6] = v["process_temp_k"] - v["air_temp_k"]
        x[0, 7] = v["tool_wear_min"] * v["torque_nm"]
        x[0, 8 + products.get(r.get("product"), 0)] = 1
        risk = float(model(x, training=False)[0, 0])
    else:
        risk = None
    out.append(json.dumps({"machine": r["machine"], "ts": r["ts"], "risk": risk}))
elapsed = time.perf_counter() - start
print(json.dumps({"readings_per_second": len(lines) / elapsed, "readings": len(lines)}))

"""The reference design's per-message loop: parse each reading's JSON, compute the same features, call a Keras
64-64 MLP on the one sample (as a per-message consumer does) and build the prediction's JSON.

Usage: python_baseline.py READINGS.jsonl COUNT [--kafka BOOTSTRAP]   (prints {"readings_per_second": ...})
Without --kafka the readings come from the file and the predictions go nowhere (an upper bound for the full loop);
with it, COUNT readings are consumed from the topic `readings` with confluent-kafka, one message at a time, and each
prediction is produced to `predictions-python`, as the reference design's worker does.
Needs the benchmark venv (scripts/bench-venv).
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
bootstrap = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--kafka" else None
lines = open(path).read().splitlines()[:count]
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((11,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model(np.zeros((1, 11), dtype=np.float32))
products = {"L": 0, "M": 1, "H": 2}


def predict(line):
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
    return r["machine"], json.dumps({"machine": r["machine"], "ts": r["ts"], "risk": risk})


if bootstrap is None:
    out = []
    start = time.perf_counter()
    for line in lines:
        out.append(predict(line)[1])
    done = len(lines)
else:
    from confluent_kafka import Consumer, Producer
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "python-baseline",
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    consumer.subscribe(["readings"])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    first = consumer.poll(30.0)  # the group join is not part of the figure
    start = time.perf_counter()
    done = 0
    message = first
    while done < count:
        if message is not None and not message.error():
            machine, prediction = predict(message.value())
            producer.produce("predictions-python", key=machine.encode(), value=prediction.encode())
            producer.poll(0)
            done += 1
        message = consumer.poll(5.0)
        if message is None:
            break
    producer.flush(30)
    consumer.close()
elapsed = time.perf_counter() - start
print(json.dumps({"readings_per_second": done / elapsed, "readings": done}))

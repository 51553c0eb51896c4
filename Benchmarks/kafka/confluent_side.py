"""The peer of `millstream-bench kafka`: confluent-kafka (librdkafka) producing and consuming the same records
against the same broker in the same run. Prints one JSON line: {"produce": msg/s, "consume": msg/s}.

  confluent_side.py BOOTSTRAP TOPIC COUNT SIZE IDEMPOTENT(0|1) [produce-only]
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

bootstrap, topic, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
idempotent = sys.argv[5] == "1"
produce_only = len(sys.argv) > 6
value = b"x" * size

# acks=all as Millstream's producer; librdkafka's defaults otherwise (linger 5 ms, batches up to 1 MB).
p = Producer({
    "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "queue.buffering.max.messages": 1000000,
    "enable.idempotence": idempotent,
})
delivered = 0


def report(err, msg):
    global delivered
    if err is not None:
        raise SystemExit(f"delivery failed: {err}")
    delivered += 1


start = time.perf_counter()
for i in range(count):
    while True:
        try:
            p.produce(topic, value=value, on_delivery=report)
            break
        except BufferError:
            p.poll(0.001)
    if i % 1000 == 0:
        p.poll(0)
p.flush(60)
produce_seconds = time.perf_counter() - start
if delivered != count:
    raise SystemExit(f"delivered {delivered} of {count}")
if produce_only:
    print(json.dumps({"produce": count / produce_seconds}))
    raise SystemExit(0)

c = Consumer({
    "bootstrap.servers": bootstrap, "group.id": "bench-python", "auto.offset.reset": "earliest",
    "enable.auto.commit": False, "session.timeout.ms": 6000,
})
c.subscribe([topic])
# The clock starts at the first record: group join and assignment are not part of the figure.
seen = 0
start = None
while seen < count:
    batch = c.consume(num_messages=10000, timeout=1.0)
    if batch and start is None:
        start = time.perf_counter()
    for m in batch:
        if m.error():
            raise SystemExit(f"consume error: {m.error()}")
        seen += 1
consume_seconds = time.perf_counter() - start
c.close()
print(json.dumps({"produce": count / produce_seconds, "consume": count / consume_seconds}))

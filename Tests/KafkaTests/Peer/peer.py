"""The second Kafka client in Millstream's interop tests: confluent-kafka (librdkafka), driven by KafkaTests.

  peer.py consume BOOTSTRAP TOPIC COUNT        prints "partition offset key value" per record (hex key/value)
  peer.py produce BOOTSTRAP TOPIC COUNT CODEC  produces keyed records with the Java partitioner (murmur2_random)
                                               and prints "index partition offset" per delivery report
"""
import sys
from confluent_kafka import Consumer, Producer


def consume(bootstrap, topic, count):
    c = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "interop-python", "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "session.timeout.ms": 6000,
    })
    c.subscribe([topic])
    seen = 0
    out = sys.stdout
    idle = 0
    while seen < count and idle < 60:
        batch = c.consume(num_messages=10000, timeout=0.5)
        if not batch:
            idle += 1
            continue
        idle = 0
        for m in batch:
            if m.error():
                raise SystemExit(f"consume error: {m.error()}")
            key = m.key().hex() if m.key() is not None else "-"
            out.write(f"{m.partition()} {m.offset()} {key} {m.value().hex()}\n")
            seen += 1
    c.close()
    if seen < count:
        raise SystemExit(f"consumed {seen} of {count}")


def produce(bootstrap, topic, count, codec):
    p = Producer({
        "bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "compression.type": codec,
        "linger.ms": 20, "enable.idempotence": False,
    })
    reports = {}

    def report(err, msg, i):
        if err is not None:
            raise SystemExit(f"delivery failed: {err}")
        reports[i] = (msg.partition(), msg.offset())

    for i in range(count):
        while True:
            try:
                p.produce(topic, key=f"machine-{i % 97}".encode(), value=f"{codec} record {i}".encode(),
                          headers=[("i", str(i).encode())], on_delivery=lambda e, m, i=i: report(e, m, i))
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    p.flush(30)
    if len(reports) != count:
        raise SystemExit(f"delivered {len(reports)} of {count}")
    for i in range(count):
        print(i, reports[i][0], reports[i][1])


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(f"unknown command {command}")

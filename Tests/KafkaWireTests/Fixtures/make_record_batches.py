"""Makes the record-batch fixtures of the KafkaWire tests with kafka-python's own v2 batch builder (a second,
independent implementation of the format). Run once: .venv/bin/pip install kafka-python &&
.venv/bin/python Tests/KafkaWireTests/Fixtures/make_record_batches.py
"""
import json
import os

import kafka
from kafka.record.default_records import DefaultRecordBatchBuilder

HERE = os.path.dirname(os.path.abspath(__file__))
builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0, producer_id=-1,
                                    producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
records = [
    (0, 1764000000000, b"plant1/line1/m07", b'{"rpm":1551}', []),
    (1, 1764000000123, None, b"", [("trace", b"abc"), ("empty", b"")]),
    (2, 1763999999000, b"", b"x" * 300, []),
]
for offset, ts, key, value, headers in records:
    builder.append(offset, timestamp=ts, key=key, value=value, headers=headers)
batch = bytes(builder.build())
with open(os.path.join(HERE, "kafka_python_batch.bin"), "wb") as f:
    f.write(batch)
with open(os.path.join(HERE, "kafka_python_batch.json"), "w") as f:
    json.dump({"made_with": "kafka-python " + kafka.__version__, "records": [
        {"offset": o, "timestamp": t, "key": None if k is None else k.decode(), "value": v.decode(),
         "headers": [[h, hv.decode()] for h, hv in hs]} for o, t, k, v, hs in records]}, f, indent=1)
print("wrote", len(batch), "bytes")

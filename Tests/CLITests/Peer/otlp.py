"""An OTLP/HTTP receiver for the central-logging test (opentelemetry-proto, PyPI: the protocol's own messages).

    python3 otlp.py PORT OUT_FILE

Takes POST /v1/traces and /v1/logs (application/x-protobuf), decodes them as ExportTraceServiceRequest and
ExportLogsServiceRequest, and appends one JSON line per span or log record to OUT_FILE:
{"signal": "span"|"log", "service": ..., "trace_id": hex, "span_id": hex, "name"/"body": ..., "attributes": {...}}.
Answers with the empty Export*ServiceResponse. Prints "ready" once listening.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

port, out = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


def attributes(items):
    return {a.key: MessageToDict(a.value).popitem()[1] if MessageToDict(a.value) else None for a in items}


def service(resource):
    return attributes(resource.attributes).get("service.name")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        rows = []
        if self.path == "/v1/traces":
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        rows.append({"signal": "span", "service": service(rs.resource), "trace_id": s.trace_id.hex(),
                                     "span_id": s.span_id.hex(), "parent_span_id": s.parent_span_id.hex(),
                                     "name": s.name, "attributes": attributes(s.attributes)})
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        elif self.path == "/v1/logs":
            request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
            for rl in request.resource_logs:
                for sl in rl.scope_logs:
                    for r in sl.log_records:
                        rows.append({"signal": "log", "service": service(rl.resource), "trace_id": r.trace_id.hex(),
                                     "span_id": r.span_id.hex(), "severity": r.severity_text,
                                     "body": r.body.string_value, "attributes": attributes(r.attributes)})
            answer = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
        else:
            self.send_response(404)
            self.end_headers()
            return
        with lock, open(out, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()

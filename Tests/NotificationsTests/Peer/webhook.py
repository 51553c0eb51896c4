"""A webhook receiver for the notification tests (standard library only).

    python3 webhook.py PORT LOG_FILE

Appends one JSON line per POST to LOG_FILE: {"path": ..., "body": <the request body as text>}. POSTs to /flaky are
answered 500 the first two times, then 200; every other path 200. Prints "ready" once listening.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
flaky = {"count": 0}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with lock:
            with open(log, "a") as f:
                f.write(json.dumps({"path": self.path, "body": body}) + "\n")
            status = 200
            if self.path == "/flaky":
                flaky["count"] += 1
                status = 500 if flaky["count"] <= 2 else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()

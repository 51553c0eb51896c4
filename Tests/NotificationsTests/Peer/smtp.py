"""SMTP servers for the notification tests (aiosmtpd, from PyPI).

    python3 smtp.py TLS_PORT PLAIN_PORT CERT KEY LOG_FILE USER PASSWORD

On TLS_PORT: STARTTLS with CERT/KEY, required before any mail, and AUTH (PLAIN or LOGIN) with USER/PASSWORD required.
On PLAIN_PORT: a server that offers no STARTTLS. Every message accepted is one JSON line in LOG_FILE:
{"port", "tls", "auth", "from", "to", "data"}. Prints "ready" once both listen.
"""
import json
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

tls_port, plain_port = int(sys.argv[1]), int(sys.argv[2])
cert, key, log, user, password = sys.argv[3:8]
lock = threading.Lock()


class Handler:
    def __init__(self, port):
        self.port = port

    async def handle_DATA(self, server, session, envelope):
        record = {
            "port": self.port,
            "tls": session.ssl is not None,
            "auth": session.authenticated,
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        with lock, open(log, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
    return AuthResult(success=ok, handled=False)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
secure = Controller(
    Handler(tls_port), hostname="127.0.0.1", port=tls_port, tls_context=context, require_starttls=True,
    auth_required=True, auth_require_tls=True, authenticator=authenticator)
plain = Controller(Handler(plain_port), hostname="127.0.0.1", port=plain_port)
secure.start()
plain.start()
print("ready", flush=True)
while True:
    time.sleep(3600)

"""asyncua's OPC UA server with a model of milling machines: the server of Millstream's OPC UA tests, benchmark and
demo (run from the project venv; Millstream's code is not used).

opcua_server.py PORT [--machines m01,m02] [--secure DIR] [--users NAME:PASSWORD] [--rate N] [--period-ms N]
  Serves opc.tcp://127.0.0.1:PORT/millstream/ with, under Objects/Plant, one object per machine and its variables
  (namespace urn:millstream:test-machines, string node ids "<machine>/<name>"):
    AirTemperature Double 300.1, ProcessTemperature Double 310.2, SpindleSpeed Float 1500, Torque Double 40,
    ToolWear Int32 0, SpeedSetpoint Float 1500 (writable: when it changes the spindle follows),
    TorqueSetpoint Double 40 (writable), Product String "M", State String "running", Good UInt32 0, Scrap UInt32 0
  Machine ids may have slashes (plant1/line1/m01): the nodes are then "plant1/line1/m01/SpindleSpeed".
  --secure DIR   also offers Basic256Sha256 SignAndEncrypt; writes a server certificate and key and a client
                 certificate and key (RSA 2048, PEM) into DIR; with --secure only, None is not offered
  --users N:P    user names and passwords only (no anonymous users)
  --rate N       N times a second (0: as fast as it can) writes the bench nodes, Objects/Bench/v0 ... (Double,
                 string ids "bench/v<i>"), each value the time it was written (seconds since the epoch)
  --bench-nodes N  how many bench nodes (default 1), all written at each tick
  --period-ms N  every N ms each machine's values move as a running machine's would
  --writable     every variable takes writes (a plant simulator behind the server writes its readings there)
  Prints {"event": "ready", "namespace": INDEX} once serving. Takes commands, one JSON object a line on stdin:
    {"do": "set", "machine": "m01", "name": "SpindleSpeed", "value": 1510}
    {"do": "status", "machine": "m01", "name": "Torque", "status": "BadSensorFailure"}   (or Uncertain...)
    {"do": "stop"}   ends the server at once (its clients lose it mid-session)
  and answers each with {"event": "done"}.
"""

import argparse
import asyncio
import datetime
import json
import math
import os
import sys
import time

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

VARIABLES = {
    "AirTemperature": (300.1, ua.VariantType.Double),
    "ProcessTemperature": (310.2, ua.VariantType.Double),
    "SpindleSpeed": (1500.0, ua.VariantType.Float),
    "Torque": (40.0, ua.VariantType.Double),
    "ToolWear": (0, ua.VariantType.Int32),
    "SpeedSetpoint": (1500.0, ua.VariantType.Float),
    "TorqueSetpoint": (40.0, ua.VariantType.Double),
    "Product": ("M", ua.VariantType.String),
    "State": ("running", ua.VariantType.String),
    "Good": (0, ua.VariantType.UInt32),
    "Scrap": (0, ua.VariantType.UInt32),
}


class Users(UserManager):
    def __init__(self, users: dict):
        self.users = users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username in self.users and self.users[username] == password:
            return User(role=UserRole.User)
        return None


def say(**event) -> None:
    print(json.dumps(event), flush=True)


def make_certificates(directory: str) -> None:
    """A self-signed server and client certificate (RSA 2048, SHA-256) with their application URIs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def one(name: str, uri: str, server: bool) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri), x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.KeyUsage(True, True, True, True, False, False, False, False, False), True)
            .add_extension(x509.ExtendedKeyUsage([usage]), False)
            .sign(key, hashes.SHA256())
        )
        with open(os.path.join(directory, f"{name}_cert.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        # The server's key in the traditional RSA form, the client's in PKCS#8 (what openssl 3 writes): Millstream
        # reads both.
        form = serialization.PrivateFormat.TraditionalOpenSSL if server else serialization.PrivateFormat.PKCS8
        with open(os.path.join(directory, f"{name}_key.pem"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption()))

    one("server", "urn:millstream:test-server", True)
    one("client", "urn:millstream:connect", False)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--machines", default="m01")
    p.add_argument("--secure")
    p.add_argument("--users")
    p.add_argument("--rate", type=float, default=-1)
    p.add_argument("--bench-nodes", type=int, default=1)
    p.add_argument("--period-ms", type=int, default=0)
    p.add_argument("--writable", action="store_true")
    a = p.parse_args()

    users = dict(u.split(":", 1) for u in a.users.split(",")) if a.users else None
    server = Server(user_manager=Users(users)) if users else Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{a.port}/millstream/")
    server.set_server_name("Millstream test machines")
    if a.secure:
        make_certificates(a.secure)
        await server.set_application_uri("urn:millstream:test-server")
        await server.load_certificate(os.path.join(a.secure, "server_cert.pem"))
        await server.load_private_key(os.path.join(a.secure, "server_key.pem"))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    if users:
        server.set_identity_tokens([ua.UserNameIdentityToken])
    ns = await server.register_namespace("urn:millstream:test-machines")
    plant = await server.nodes.objects.add_folder(ua.NodeId("Plant", ns), "Plant")
    nodes = {}
    for machine in a.machines.split(","):
        obj = await plant.add_object(ua.NodeId(machine, ns), machine)
        for name, (value, kind) in VARIABLES.items():
            v = await obj.add_variable(ua.NodeId(f"{machine}/{name}", ns), name, ua.Variant(value, kind))
            if name.endswith("Setpoint"):
                await v.set_writable()
            elif a.writable:
                await v.set_writable()
            nodes[(machine, name)] = v

    async def write(machine: str, name: str, value, status=None) -> None:
        kind = VARIABLES[name][1]
        if kind in (ua.VariantType.Int32, ua.VariantType.UInt32):
            value = int(value)
        dv = ua.DataValue(
            ua.Variant(value, kind),
            StatusCode=ua.StatusCode(status if status is not None else ua.StatusCodes.Good),
            SourceTimestamp=datetime.datetime.now(datetime.timezone.utc),
        )
        await nodes[(machine, name)].write_value(dv)

    async def follow_setpoints() -> None:
        # The machine applies a new speed setpoint: the spindle follows it.
        last = {}
        while True:
            await asyncio.sleep(0.05)
            for machine in a.machines.split(","):
                sp = await nodes[(machine, "SpeedSetpoint")].read_value()
                if machine in last and abs(sp - last[machine]) > 1e-3:
                    await write(machine, "SpindleSpeed", sp)
                last[machine] = sp

    bench = []
    if a.rate >= 0:
        folder = await server.nodes.objects.add_folder(ua.NodeId("Bench", ns), "Bench")
        for i in range(a.bench_nodes):
            bench.append(await folder.add_variable(ua.NodeId(f"bench/v{i}", ns), f"v{i}", ua.Variant(0.0, ua.VariantType.Double)))

    async def rate() -> None:
        period = 1 / a.rate if a.rate > 0 else 0
        next_at = time.perf_counter()
        while True:
            next_at += period
            for node in bench:
                # write_attribute_value: the server's own fast path (no service call per value).
                await server.write_attribute_value(
                    node.nodeid, ua.DataValue(ua.Variant(time.time(), ua.VariantType.Double),
                                              SourceTimestamp=datetime.datetime.now(datetime.timezone.utc)))
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif period == 0 or delay < -1:
                next_at = time.perf_counter()
                await asyncio.sleep(0)

    async def run_machines() -> None:
        i = 0
        while True:
            await asyncio.sleep(a.period_ms / 1000)
            i += 1
            for machine in a.machines.split(","):
                wear = (await nodes[(machine, "ToolWear")].read_value() + 1) % 240
                await write(machine, "ToolWear", wear)
                await write(machine, "Torque", 40 + 3 * math.sin(i / 7))
                await write(machine, "AirTemperature", 300 + math.sin(i / 50))
                await write(machine, "ProcessTemperature", 310 + math.sin(i / 50))
                await write(machine, "Good", await nodes[(machine, "Good")].read_value() + 1)

    async with server:
        tasks = [asyncio.create_task(follow_setpoints())]
        if a.rate >= 0:
            tasks.append(asyncio.create_task(rate()))
        if a.period_ms:
            tasks.append(asyncio.create_task(run_machines()))
        say(event="ready", namespace=ns)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd["do"] == "set":
                await write(cmd["machine"], cmd["name"], cmd["value"])
            elif cmd["do"] == "status":
                current = await nodes[(cmd["machine"], cmd["name"])].read_value()
                await write(cmd["machine"], cmd["name"], current, getattr(ua.StatusCodes, cmd["status"]))
            elif cmd["do"] == "stop":
                os._exit(0)
            say(event="done")
        # stdin closed: keep serving until killed
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())

"""A Sparkplug B edge node with one device: the second implementation of Millstream's Sparkplug tests and demo.

Payloads are encoded by Eclipse Tahu's Python helpers as mqtt-spb-wrapper ships them (its protobuf classes and
`addMetric`), MQTT by paho-mqtt; both come from the project venv. Millstream's code is not used.

sparkplug_edge.py PORT GROUP NODE DEVICE [--period-ms N]
  Connects with an NDEATH will (bdSeq), publishes NBIRTH (seq 0, bdSeq, Node Control/Rebirth) and the device's DBIRTH
  with aliases, prints {"event": "born", "bdSeq": N}, then takes commands, one JSON object a line on stdin:
    {"do": "data", "metrics": {"Temperature": 301.5}}                  DDATA by alias, next seq
    {"do": "data", "metrics": {...}, "quality": {"Temperature": 500}}  with a Quality property per metric
    {"do": "data", "metrics": {...}, "historical": true}               the metrics marked historical
    {"do": "skip"}                                                     uses up a seq, as a lost message would
    {"do": "raw", "hex": "..."}                                        publishes bytes as they are, as DDATA
    {"do": "die"}                                                      drops the connection: the broker sends the will
    {"do": "connect"}                                                  connects again: bdSeq + 1, births
  With --period-ms it also publishes the device's metrics every N ms (a slowly turning spindle), for the demo.
  It answers the host: an NCMD with Node Control/Rebirth true publishes the births again ({"event": "rebirth"}); a
  DCMD sets the named or aliased metrics and reports them in a DDATA ({"event": "dcmd", "metrics": {...}}). Every
  event is a JSON line on stdout.
"""

import json
import math
import sys
import threading
import time

import paho.mqtt.client as mqtt
from mqtt_spb_wrapper.spb_protobuf.sparkplug_b import MetricDataType as T
from mqtt_spb_wrapper.spb_protobuf.sparkplug_b import addMetric
from mqtt_spb_wrapper.spb_protobuf.sparkplug_b_pb2 import Payload

# name: (alias, type, initial value): a milling machine's PLC.
METRICS = {
    "Temperatures/Air": (1, T.Double, 300.1),
    "Temperatures/Process": (2, T.Double, 310.2),
    "Spindle/Speed": (3, T.Float, 1500.0),
    "Spindle/Torque": (4, T.Float, 40.0),
    "Tool/Wear": (5, T.Int32, 0),
    "Setpoints/Speed": (6, T.Float, 1500.0),
    "State": (7, T.String, "running"),
    "Counts/Good": (8, T.UInt64, 0),
    "Counts/Scrap": (9, T.UInt64, 0),
}
BY_ALIAS = {a: name for name, (a, _, _) in METRICS.items()}


def now_ms() -> int:
    return int(time.time() * 1000)


def say(**event) -> None:
    print(json.dumps(event), flush=True)


class Edge:
    def __init__(self, port: int, group: str, node: str, device: str):
        self.port, self.group, self.node, self.device = port, group, node, device
        self.values = {name: v for name, (_, _, v) in METRICS.items()}
        self.seq = 0
        self.bd_seq = -1
        self.lock = threading.Lock()
        self.client = None

    def topic(self, kind: str, device: bool = False) -> str:
        t = f"spBv1.0/{self.group}/{kind}/{self.node}"
        return t + "/" + self.device if device else t

    def next_seq(self) -> int:
        s = self.seq
        self.seq = (self.seq + 1) % 256
        return s

    def connect(self) -> None:
        self.bd_seq = (self.bd_seq + 1) % 256
        death = Payload()
        addMetric(death, "bdSeq", None, T.Int64, self.bd_seq, now_ms())
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.node}-edge", protocol=mqtt.MQTTv311)
        c.will_set(self.topic("NDEATH"), death.SerializeToString(), qos=1)
        c.on_message = self.on_message
        c.connect("127.0.0.1", self.port, keepalive=5)
        c.loop_start()
        c.subscribe([(self.topic("NCMD"), 0), (self.topic("DCMD", True), 0)])
        self.client = c
        self.births()
        say(event="born", bdSeq=self.bd_seq)

    def births(self) -> None:
        with self.lock:
            self.seq = 0
            t = now_ms()
            nbirth = Payload()
            nbirth.timestamp = t
            nbirth.seq = self.next_seq()
            addMetric(nbirth, "bdSeq", None, T.Int64, self.bd_seq, t)
            addMetric(nbirth, "Node Control/Rebirth", None, T.Boolean, False, t)
            self.client.publish(self.topic("NBIRTH"), nbirth.SerializeToString(), qos=0).wait_for_publish()
            dbirth = Payload()
            dbirth.timestamp = t
            dbirth.seq = self.next_seq()
            for name, (alias, kind, _) in METRICS.items():
                addMetric(dbirth, name, alias, kind, self.values[name], t)
            self.client.publish(self.topic("DBIRTH", True), dbirth.SerializeToString(), qos=0).wait_for_publish()

    def data(self, metrics: dict, quality: dict | None = None, historical: bool = False) -> None:
        with self.lock:
            t = now_ms()
            p = Payload()
            p.timestamp = t
            p.seq = self.next_seq()
            for name, value in metrics.items():
                alias, kind, _ = METRICS[name]
                if kind in (T.Int32, T.UInt64):
                    value = int(value)
                # What the machine holds is what it last reported as good and live.
                if not historical and (quality or {}).get(name, 192) == 192:
                    self.values[name] = value
                m = addMetric(p, None, alias, kind, value, t)
                if historical:
                    m.is_historical = True
                if quality and name in quality:
                    m.properties.keys.append("Quality")
                    v = m.properties.values.add()
                    v.type = T.Int32
                    v.int_value = quality[name]
            self.client.publish(self.topic("DDATA", True), p.SerializeToString(), qos=0).wait_for_publish()

    def on_message(self, client, userdata, msg) -> None:
        # Answered off paho's network thread: publishing waits for that thread to send.
        threading.Thread(target=self.command, args=(msg.topic, msg.payload), daemon=True).start()

    def command(self, topic: str, payload: bytes) -> None:
        p = Payload()
        p.ParseFromString(payload)
        if "/NCMD/" in topic:
            if any(m.name == "Node Control/Rebirth" and m.boolean_value for m in p.metrics):
                self.births()
                say(event="rebirth")
            return
        changed = {}
        for m in p.metrics:
            name = m.name if m.HasField("name") else BY_ALIAS.get(m.alias)
            if name not in METRICS:
                say(event="unknown_command", metric=m.name or m.alias)
                continue
            kind = METRICS[name][1]
            changed[name] = m.float_value if kind == T.Float else m.double_value if kind == T.Double else m.int_value
        # The machine applies a new speed setpoint: the spindle follows it.
        if "Setpoints/Speed" in changed:
            changed["Spindle/Speed"] = changed["Setpoints/Speed"]
        say(event="dcmd", metrics=changed)
        self.data(changed)

    def die(self) -> None:
        # Closing the socket without DISCONNECT makes the broker publish the will (NDEATH).
        self.client.loop_stop()
        self.client.socket().close()
        self.client = None


def main() -> None:
    port, group, node, device = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    period = int(sys.argv[sys.argv.index("--period-ms") + 1]) if "--period-ms" in sys.argv else 0
    edge = Edge(port, group, node, device)
    edge.connect()
    if period:

        def run() -> None:
            i = 0
            while True:
                time.sleep(period / 1000)
                i += 1
                v = edge.values
                edge.data({
                    "Temperatures/Air": 300 + math.sin(i / 50),
                    "Temperatures/Process": 310 + math.sin(i / 50),
                    "Spindle/Torque": 40 + 3 * math.sin(i / 7),
                    "Tool/Wear": (v["Tool/Wear"] + 1) % 240,
                    "Counts/Good": v["Counts/Good"] + 1,
                })

        threading.Thread(target=run, daemon=True).start()
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        do = cmd["do"]
        if do == "data":
            edge.data(cmd["metrics"], cmd.get("quality"), cmd.get("historical", False))
        elif do == "skip":
            with edge.lock:
                edge.next_seq()
        elif do == "raw":
            with edge.lock:
                edge.client.publish(edge.topic("DDATA", True), bytes.fromhex(cmd["hex"]), qos=0).wait_for_publish()
        elif do == "die":
            edge.die()
        elif do == "connect":
            edge.connect()
        say(event="done", do=do)


if __name__ == "__main__":
    main()

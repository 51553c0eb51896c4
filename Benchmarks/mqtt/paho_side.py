"""paho-mqtt 2, the peer of `scripts/bench mqtt` (run from the project venv). MQTT 5, QoS 1, on the same broker.

session HOST PORT ID: creates a persistent session subscribed to bench/# (QoS 1), then leaves, so messages queue for it.
drain HOST PORT ID COUNT: takes the session back and receives COUNT queued messages; prints {"rate": messages/s}.
latency HOST PORT COUNT: subscribes, prints "ready", receives COUNT messages whose payload starts with the sender's
  CLOCK_MONOTONIC nanoseconds and a space; prints {"p50_ms", "p99_ms", "max_ms"}.
"""

import json
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def client(client_id: str) -> mqtt.Client:
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)


def persistent(c: mqtt.Client, host: str, port: int) -> None:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    c.connect(host, port, clean_start=False, properties=props)


def session(host, port, client_id):
    c = client(client_id)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    persistent(c, host, port)
    c.loop_start()
    c.subscribe("bench/#", qos=1)
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def drain(host, port, client_id, count):
    c = client(client_id)
    done = threading.Event()
    state = {"n": 0, "first": None}

    def on_message(c, userdata, message):
        if state["first"] is None:
            state["first"] = time.monotonic()
        state["n"] += 1
        if state["n"] >= count:
            state["last"] = time.monotonic()
            done.set()

    c.on_message = on_message
    persistent(c, host, port)
    c.loop_start()
    if not done.wait(300):
        sys.exit(f"paho: {state['n']} of {count} messages arrived")
    c.disconnect()
    c.loop_stop()
    print(json.dumps({"rate": count / (state["last"] - state["first"])}))


def latency(host, port, count):
    c = client("paho-latency")
    done = threading.Event()
    latencies = []

    def on_connect(c, userdata, flags, reason, properties):
        c.subscribe("bench/#", qos=1)

    def on_subscribe(c, userdata, mid, reasons, properties):
        print("ready", flush=True)

    def on_message(c, userdata, message):
        now = time.monotonic_ns()
        sent = int(message.payload.split(b" ", 1)[0])
        latencies.append((now - sent) / 1e6)
        if len(latencies) >= count:
            done.set()

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.connect(host, port)
    c.loop_start()
    if not done.wait(300):
        sys.exit(f"paho: {len(latencies)} of {count} messages arrived")
    c.disconnect()
    c.loop_stop()
    latencies.sort()
    print(
        json.dumps(
            {
                "p50_ms": latencies[len(latencies) // 2],
                "p99_ms": latencies[int(len(latencies) * 0.99)],
                "max_ms": latencies[-1],
            }
        )
    )


if __name__ == "__main__":
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "session":
        session(host, port, sys.argv[4])
    elif mode == "drain":
        drain(host, port, sys.argv[4], int(sys.argv[5]))
    else:
        latency(host, port, int(sys.argv[4]))

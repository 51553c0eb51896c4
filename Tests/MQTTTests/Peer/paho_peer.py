"""paho-mqtt, the second MQTT client of Millstream's interop tests (run from the project venv).

publish HOST PORT TOPIC COUNT QOS VERSION: publishes COUNT messages "message-<i>", waits for every acknowledgement.
subscribe HOST PORT FILTER COUNT QOS VERSION: prints "ready", then the topic and payload of COUNT messages, one per line.
VERSION is 311 or 5.
"""

import sys
import threading

import paho.mqtt.client as mqtt


def client(version: str) -> mqtt.Client:
    protocol = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-peer", protocol=protocol)


def publish(host, port, topic, count, qos, version):
    c = client(version)
    c.connect(host, port)
    c.loop_start()
    infos = [c.publish(topic, f"message-{i}".encode(), qos=qos) for i in range(count)]
    for info in infos:
        info.wait_for_publish(timeout=30)
        if not info.is_published():
            sys.exit(f"paho: message {info.mid} was not acknowledged")
    c.disconnect()
    c.loop_stop()


def subscribe(host, port, topic_filter, count, qos, version):
    c = client(version)
    done = threading.Event()
    received = []

    def on_connect(c, userdata, flags, reason, properties):
        c.subscribe(topic_filter, qos=qos)

    def on_subscribe(c, userdata, mid, reasons, properties):
        print("ready", flush=True)

    def on_message(c, userdata, message):
        received.append(f"{message.topic} {message.payload.decode()}")
        if len(received) >= count:
            done.set()

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.connect(host, port)
    c.loop_start()
    if not done.wait(timeout=180):
        sys.exit(f"paho: {len(received)} of {count} messages arrived")
    c.disconnect()
    c.loop_stop()
    print("\n".join(received), flush=True)


if __name__ == "__main__":
    mode, host, port, topic, count, qos, version = sys.argv[1:8]
    (publish if mode == "publish" else subscribe)(host, int(port), topic, int(count), int(qos), version)

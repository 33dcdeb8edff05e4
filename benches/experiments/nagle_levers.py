"""Which lever removes the Nagle stall a relay meets on a stock Mosquitto? (issue 13)

A relay written with paho-mqtt (subscribe QoS 1, republish retained) between a camera publishing
300 messages of 2 KB, 20 ms apart (QoS 0), and a subscriber; each run starts its own stock
Mosquitto (no tuning: Nagle's algorithm on). Three variants:

- republish with QoS 1, nothing else: the broker's PUBACK is a small segment; the relay's kernel
  delays its ACK, and Nagle holds the broker's next delivery until that ACK comes;
- republish with QoS 1, TCP_QUICKACK re-armed after every read (the kernel clears it by itself);
- republish with QoS 0: no PUBACK at all.

The bridge cannot re-arm TCP_QUICKACK (rumqttc 0.25 gives no access to its socket), and QoS 0 is
as fast without it, so the bridge publishes Home Assistant's messages with QoS 0; BENCHMARKS.md
records the figures. Not part of the test suite. Run: pip install paho-mqtt; python3 this-file.
"""

import select
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relay(port, qos, quickack, stop):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="relay")
    c.on_message = lambda cl, _u, m: cl.publish("out", m.payload, qos=qos, retain=True)
    c.connect("127.0.0.1", port)
    c.subscribe("in", 1)
    sock = c.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while not stop.is_set():
        readable, writable, _ = select.select([sock], [sock] if c.want_write() else [], [], 1)
        if readable:
            c.loop_read()
            if quickack:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if writable or c.want_write():
            c.loop_write()
        c.loop_misc()


def run(qos, quickack):
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        conf.flush()
        broker = subprocess.Popen([MOSQUITTO, "-c", conf.name], stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        try:
            return measure(port, qos, quickack)
        finally:
            broker.terminate()
            broker.wait()


def measure(port, qos, quickack):
    delays = {"in": [], "out": []}
    sent = {}

    def on_message(_c, _u, m):
        now = time.perf_counter()
        seq = int(m.payload[:8])
        if seq in sent:
            delays[m.topic].append(now - sent[seq])

    stop = threading.Event()
    relay_thread = threading.Thread(target=relay, args=(port, qos, quickack, stop), daemon=True)
    relay_thread.start()
    for topic in ("in", "out"):
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sub-" + topic)
        sub.on_message = on_message
        sub.connect("127.0.0.1", port)
        sub.subscribe(topic, 0)
        sub.loop_start()
    camera = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="camera")
    camera.connect("127.0.0.1", port)
    camera.loop_start()
    time.sleep(1)
    for i in range(300):
        sent[i] = time.perf_counter()
        camera.publish("in", b"%08d" % i + b"x" * 2040, qos=0)
        time.sleep(0.02)
    time.sleep(0.5)
    stop.set()
    relay_thread.join()
    return delays


def pct(values, q):
    values = sorted(values)
    return values[round((len(values) - 1) * q)] * 1000 if values else float("nan")


if __name__ == "__main__":
    for qos, quickack, label in [
        (1, False, "QoS 1"),
        (1, True, "QoS 1 + TCP_QUICKACK"),
        (0, False, "QoS 0"),
    ]:
        d = run(qos, quickack)
        print(
            f"{label:22} one hop p50 {pct(d['in'], .5):.2f} / p99 {pct(d['in'], .99):.2f} ms; "
            f"relay p50 {pct(d['out'], .5):.2f} / p99 {pct(d['out'], .99):.2f} ms "
            f"({len(d['out'])} of 300)"
        )

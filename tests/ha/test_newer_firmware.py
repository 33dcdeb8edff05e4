"""Newer firmware as a user sees it in Home Assistant: a camera whose topics were changed in its
web page, its snapshots in the vendor's JSON envelope (its devName as the device's model, an
unlisted camera named by it), and its answers on the configuration-respond topic as the
Configuration answer entity."""

import base64
import json
import time

from conftest import BARN, DRIVEWAY, bridge_config, bridge_lines, jpeg
from harness import wait_until

TOPICS = """\
camera_topics:
  snapshot: home/+/snapshot
  status: home/+/status
  alarm: home/+/alarm
  config_request: home/+/config/request
  config_respond: home/+/config/respond
discover_unknown: true"""


def envelope(mac: str, picture: bytes) -> str:
    """The vendor's sample envelope, with a real picture."""
    return json.dumps({
        "ts": int(time.time() * 1000),
        "values": {
            "devName": "4G Solar-powered ANPR Camera",
            "devMac": mac,
            "file": "debug_202304240745431198T",
            "time": int(time.time()),
            "imageSize": len(picture),
            "image": "data:image/jpeg;base64," + base64.b64encode(picture).decode(),
        },
    })


def test_a_camera_on_its_own_topics_with_the_envelope_and_its_configuration_answer(stack):
    stack.start(bridge_config(stack.broker.port, TOPICS))
    stack.wait_entity("camera.driveway")

    # The listed camera: its picture and status on the topics its web page set.
    picture = jpeg(41)
    stack.broker.pub("home/gate/snapshot", envelope(DRIVEWAY, picture))
    wait_until("the picture through camera_proxy",
               lambda: stack.ha.get_bytes("/api/camera_proxy/camera.driveway").content == picture)
    stack.broker.pub("home/gate/status", json.dumps({"devMac": DRIVEWAY, "battery": 66}))
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "66", "66 %")
    stack.broker.pub("home/gate/alarm", json.dumps({"devMac": DRIVEWAY, "type": "PIR"}))
    stack.ha.wait_state("binary_sensor.driveway_alarm", lambda s: s["state"] == "on", "on")
    _, devices = stack.ha.registry()
    node = f"solarcam_{DRIVEWAY.lower()}"
    wait_until("the model from devName", lambda: next(
        d for d in stack.ha.registry()[1] if ["mqtt", node] in d["identifiers"]
    )["model"] == "4G Solar-powered ANPR Camera")
    camera = next(d for d in stack.ha.registry()[1] if ["mqtt", node] in d["identifiers"])
    assert camera["name"] == "Driveway", "a listed camera keeps the user's name"

    # Its answer to a configuration request: a diagnostic entity, the answer whole as attributes.
    answer = {"devMac": DRIVEWAY, "result": "ok", "interval": 300}
    stack.broker.pub("home/gate/config/respond", json.dumps(answer))
    s = stack.ha.wait_state("sensor.driveway_configuration_answer",
                            lambda s: s["state"] not in ("unknown", "unavailable"), "a time")
    assert s["attributes"]["device_class"] == "timestamp"
    assert s["attributes"]["result"] == "ok" and s["attributes"]["interval"] == 300
    entities, _ = stack.ha.registry()
    entry = next(e for e in entities if e["entity_id"] == "sensor.driveway_configuration_answer")
    assert entry["entity_category"] == "diagnostic"

    # An unlisted camera of another product appears named by its devName.
    stack.broker.pub("home/barn/snapshot", envelope(BARN, jpeg(42)))
    name = f"4g_solar_powered_anpr_camera_{BARN.lower()}"
    stack.wait_entity(f"camera.{name}")
    barn = next(d for d in stack.ha.registry()[1]
                if ["mqtt", f"solarcam_{BARN.lower()}"] in d["identifiers"])
    assert barn["name"] == f"4G Solar-powered ANPR Camera {BARN}"
    assert barn["model"] == "4G Solar-powered ANPR Camera"

    # A picture cut short (its imageSize larger than its bytes) does not replace the last one.
    cut = json.loads(envelope(DRIVEWAY, jpeg(43)))
    cut["values"]["imageSize"] += 100
    stack.broker.pub("home/gate/snapshot", json.dumps(cut))
    stack.bridge.wait_log("the refusal", "imageSize says")
    assert stack.ha.get_bytes("/api/camera_proxy/camera.driveway").content == picture
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())

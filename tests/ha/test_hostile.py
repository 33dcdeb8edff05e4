"""Whatever a stranger sends, Home Assistant holds a valid state and logs nothing about it."""

import json

from conftest import DRIVEWAY, bridge_config, bridge_lines
from harness import Mosquitto, wait_until


def test_a_strangers_payloads_leave_only_valid_states_in_home_assistant(stack):
    stack.start()
    stack.wait_entity("sensor.driveway_battery")
    stack.status(battery=60)
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "60", "60 %")

    # A 10 KB topic level on Home Assistant's own broker (a command for no camera).
    stack.broker.pub(f"solarcam/{'x' * 10_000}/command", "wake")
    error = stack.ha.wait_state("sensor.solarcam_bridge_last_error",
                                lambda s: s["state"].startswith("solarcam/xxx"), "the refusal")
    assert len(error["state"]) <= 255 and error["state"].endswith("…")
    message = error["attributes"]["message"]
    assert message.startswith(error["state"][:-1]) and len(message) <= 4096
    assert "(10000 characters) is not a MAC address" in message

    # A MAC field that is no MAC, with one camera listed: refused, counted, not the camera's.
    stack.status(mac="Z" * 10_000, battery=5)
    stack.ha.wait_state("sensor.solarcam_bridge_payloads_rejected",
                        lambda s: s["state"] == "2", "2 payloads rejected")
    assert stack.ha.state("sensor.driveway_battery")["state"] == "60"

    # A 10 KB alarm kind and a 20 KB status for the listed camera.
    stack.broker.pub("4GSolarCam/Alarm", json.dumps({"devMac": DRIVEWAY, "type": "k" * 10_000}))
    event = stack.ha.wait_state("event.driveway_alarm_event",
                                lambda s: s["attributes"].get("event_type") == "alarm",
                                "an alarm of an unknown kind")
    # Over 8 KiB: its fields are not attributes (Home Assistant's recorder refuses > 16 KiB).
    assert "type" not in event["attributes"]
    stack.status(battery=61, junk="j" * 20_000)
    battery = stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "61",
                                  "61 %")
    assert set(battery["attributes"]) >= {"note"} and "junk" not in battery["attributes"]

    # Every state Home Assistant holds for the bridge is one it accepted.
    for s in stack.ha.get("/api/states"):
        if "driveway" in s["entity_id"] or "solarcam" in s["entity_id"]:
            assert len(s["state"]) <= 255, s["entity_id"]
    log = stack.ha.log_text()
    assert "State max length" not in log and "exceed maximum size" not in log
    assert not bridge_lines(log), bridge_lines(log)


def test_a_dead_camera_broker_shows_on_the_bridge_device(stack, tmp_path):
    cameras = Mosquitto(tmp_path / "cameras")
    try:
        stack.start(bridge_config(stack.broker.port,
                                  f"camera_mqtt:\n  url: {cameras.url}"))
        link = "binary_sensor.solarcam_bridge_camera_broker"
        stack.ha.wait_state(link, lambda s: s["state"] == "on", "connected")
        cameras.stop()
        stack.ha.wait_state(link, lambda s: s["state"] == "off", "disconnected")
        assert stack.ha.state("binary_sensor.solarcam_bridge_connectivity")["state"] == "on"
        cameras.start()
        stack.ha.wait_state(link, lambda s: s["state"] == "on", "connected again")
        # One broker again: the sensor goes.
        stack.bridge.write_config(bridge_config(stack.broker.port))
        wait_until("the sensor removed", lambda: stack.ha.state(link) is None)
    finally:
        cameras.stop()

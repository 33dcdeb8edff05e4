"""MQTT 5.0 on the bridge's own broker, as Home Assistant meets it: a new MQTT entry speaks 5 (the
form's default since 2026.6, and the only protocol from 2027.1), an entry made before 2026.6 is
moved to 5 by Home Assistant itself at its start, and the demo works with the form's defaults.
Each test also fails if Home Assistant holds an MQTT repair at its end (conftest's `finish`)."""

import subprocess

from conftest import DRIVEWAY, embedded_config
from harness import BRIDGE_BIN, HomeAssistant, free_port, wait_until
from test_entities import CAMERA


def release(version: str) -> tuple[int, int]:
    return tuple(int(x) for x in version.split(".")[:2])


def test_a_protocol_5_entry_on_the_embedded_broker_shows_presses_and_hears_the_camera(
        embedded_stack):
    s = embedded_stack
    s.ha.set_mqtt_entry(protocol="5")
    s.start(embedded_config(s.broker.port), ha_first=False)
    s.wait_entity("camera.driveway")
    s.status()
    s.ha.wait_state("sensor.driveway_battery", lambda st: st["state"] == "87", "87 %")
    for key, (entity_id, _, _, _, enabled) in CAMERA.items():
        if enabled:
            s.wait_entity(entity_id)
    cam = s.broker.subscriber("4GSolarCam/+/" + DRIVEWAY)
    try:
        s.ha.press("button.driveway_wake")
        assert cam.wait_for("the wake", f"4GSolarCam/Wake/{DRIVEWAY}") == [b"wake"]
        s.status()  # awake now
        s.ha.press("button.driveway_reboot")
        assert cam.wait_for("the reboot", f"4GSolarCam/Config/{DRIVEWAY}") == [b"reboot"]
        s.ha.press("button.driveway_request_status")
        assert cam.wait_for("the status request", f"4GSolarCam/Status/{DRIVEWAY}") == [b"status"]
    finally:
        cam.close()
    before = s.ha.state("event.driveway_alarm_event")["state"]
    s.alarm(kind="PIR")
    event = s.ha.wait_state("event.driveway_alarm_event",
                            lambda st: st["state"] not in (before, "unknown", "unavailable"),
                            "the alarm event")
    assert event["attributes"]["event_type"] == "pir"
    s.ha.wait_state("binary_sensor.driveway_alarm", lambda st: st["state"] == "on", "alarm on")
    s.ha.stop()
    assert s.ha.mqtt_entry()["protocol"] == "5"


def test_an_entry_from_before_2026_6_is_moved_to_protocol_5_without_a_repair(
        embedded_stack, ha_version):
    s = embedded_stack
    # An entry made before the protocol was asked for: 3.1.1, as Home Assistant reads it.
    s.ha.set_mqtt_entry(protocol=None)
    s.start(embedded_config(s.broker.port), ha_first=False)
    s.wait_entity("camera.driveway")
    s.alarm()
    s.ha.wait_state("binary_sensor.driveway_alarm", lambda st: st["state"] == "on", "alarm on")
    migrates = release(ha_version) >= (2026, 6)
    if migrates:
        assert "successfully updated to version 5" in s.ha.log_text()
    # finish() checks that no repair is held; the entry is read once Home Assistant saved it.
    assert s.ha.mqtt_repairs() == []
    s.ha.stop()
    assert s.ha.mqtt_entry().get("protocol") == ("5" if migrates else None)


def test_the_demo_shows_its_camera_through_home_assistants_mqtt_form_with_its_defaults(
        ha_template, tmp_path, ha_version):
    """README: `solarcam-bridge demo --listen 0.0.0.0:1883 --allow-anonymous`, then Settings >
    Devices & services > Add integration > MQTT, broker = this machine, port 1883, the rest as
    the form offers it (protocol 5 since 2026.6)."""
    port = free_port()
    demo = subprocess.Popen(
        [str(BRIDGE_BIN), "demo", "--listen", f"127.0.0.1:{port}", "--allow-anonymous",
         "--snapshot-file", str(tmp_path / "demo.jpg"), "--alarm-every", "5"],
        cwd=tmp_path, stdout=open(tmp_path / "demo.log", "wb"), stderr=subprocess.STDOUT)
    ha = HomeAssistant(tmp_path, port, ha_template)
    try:
        # The template's entry goes, as if this Home Assistant had none, and the form makes one.
        ha.start()
        entry = next(e for e in ha.get("/api/config/config_entries/entry")
                     if e["domain"] == "mqtt")
        ha.delete(f"/api/config/config_entries/entry/{entry['entry_id']}")
        ha.mqtt_port = port
        ha.add_mqtt()
        camera = ha.wait_state("camera.demo_camera", lambda st: st["state"] != "unavailable",
                               "the demo camera")
        assert camera["attributes"]["friendly_name"] == "Demo camera"
        ha.wait_state("binary_sensor.demo_camera_alarm", lambda st: st["state"] == "on",
                      "the demo's alarm")
        wait_until("the demo's picture", lambda: ha.get_bytes(
            "/api/camera_proxy/camera.demo_camera").content[:3] == b"\xff\xd8\xff")
        assert ha.mqtt_repairs() == []
        ha.stop()
        if release(ha_version) >= (2026, 6):
            assert ha.mqtt_entry()["protocol"] == "5"
    finally:
        ha.stop()
        demo.terminate()
        demo.wait(10)

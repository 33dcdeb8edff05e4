"""What automations start on: the event entity and the device triggers, on real alarms only, even
when the alarm is a camera's first message or comes right after the bridge or Home Assistant
started."""

import time

from conftest import BARN, DRIVEWAY, bridge_config, bridge_lines, device_id, save_automation
from harness import wait_until


def device_trigger_automation(stack, subtype: str) -> None:
    device = device_id(stack.ha, f"solarcam_{DRIVEWAY.lower()}")
    save_automation(stack.ha, f"driveway_{subtype}", {
        "alias": f"Driveway {subtype}",
        "trigger": [{"platform": "device", "domain": "mqtt", "device_id": device,
                     "type": "alarm", "subtype": subtype, "discovery_id":
                     f"solarcam_{DRIVEWAY.lower()} alarm_{subtype}"}],
        "action": [{"event": "test_device_trigger",
                    "event_data": {"subtype": subtype,
                                   "kind": "{{ trigger.payload_json.event_type }}"}}]})


def until_subscribed(stack, *recorders):
    """An automation just saved subscribes a moment later: a tamper alarm, repeated until every
    recorder has seen its automation fire on it, shows they have. Each try waits longer than the
    bridge holds events after it starts. The warm-up's kind is left out of what the tests look
    at."""
    def fires():
        stack.alarm(kind="tamper")
        try:
            wait_until("the trigger", lambda: all(r.events for r in recorders), timeout=5)
            return True
        except AssertionError:
            return False
    wait_until("the trigger subscribed", fires, every=0)


def fired(recorder):
    """What the device triggers fired on, without the warm-up's tamper alarms."""
    return [(e["data"]["subtype"], e["data"]["kind"]) for e in recorder.events
            if e["data"]["kind"] != "tamper"]


def test_home_assistant_lists_the_cameras_triggers_and_fires_one_on_its_alarms_only(stack):
    stack.start()
    stack.wait_entity("event.driveway_alarm_event")
    device = device_id(stack.ha, f"solarcam_{DRIVEWAY.lower()}")
    listed = stack.ha.ws_call({"type": "device_automation/trigger/list", "device_id": device})
    ours = sorted((t["type"], t["subtype"]) for t in listed if t["domain"] == "mqtt")
    assert ours == sorted([("alarm", s) for s in
                           ["any", "motion", "pir", "person", "vehicle", "tamper"]]), listed
    for t in listed:
        if t["domain"] == "mqtt":
            assert t["device_id"] == device and t["platform"] == "device"
    # The editor saves what the list offered.
    pir = next(t for t in listed if t.get("subtype") == "pir")
    save_automation(stack.ha, "driveway_pir", {
        "alias": "Driveway pir", "trigger": [pir],
        "action": [{"event": "test_device_trigger",
                    "event_data": {"subtype": "pir",
                                   "kind": "{{ trigger.payload_json.event_type }}"}}]})
    device_trigger_automation(stack, "any")
    rx = stack.record("test_device_trigger")
    until_subscribed(stack, rx)

    stack.alarm(kind="motion")
    stack.status()
    stack.alarm(BARN, kind="PIR")
    stack.bridge.stop()
    stack.bridge.start()
    stack.wait_entity("event.driveway_alarm_event")
    stack.alarm(kind="PIR")
    wait_until("3 triggers", lambda: len(fired(rx)) >= 3)
    assert sorted(fired(rx)) == sorted([("any", "motion"), ("any", "pir"), ("pir", "pir")])
    event = stack.ha.state("event.driveway_alarm_event")
    assert event["attributes"]["event_type"] == "pir"
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())


def test_an_alarm_right_after_the_bridge_starts_reaches_the_event_and_the_trigger(stack):
    stack.start()
    stack.wait_entity("event.driveway_alarm_event")
    device_trigger_automation(stack, "any")
    rx = stack.record("test_device_trigger")
    until_subscribed(stack, rx)
    stack.bridge.stop()
    retained = stack.broker.subscriber("solarcam/bridge/availability")
    stack.bridge.start()
    # The moment the bridge is back online, the camera raises an alarm.
    retained.wait_for("the bridge online", "solarcam/bridge/availability", 2)
    retained.close()
    stack.alarm(kind="person")
    wait_until("the device trigger", lambda: fired(rx) == [("any", "person")])
    stack.ha.wait_state("event.driveway_alarm_event",
                        lambda s: s["attributes"].get("event_type") == "person", "person")


def test_an_alarm_right_after_home_assistant_starts_reaches_the_event_and_the_trigger(stack):
    stack.start()
    stack.wait_entity("event.driveway_alarm_event")
    device_trigger_automation(stack, "any")
    stack.ha.stop()
    births = stack.broker.subscriber("homeassistant/status")
    stack.ha.launch()
    # The moment Home Assistant announces itself, the camera raises an alarm.
    births.wait_for("Home Assistant's birth", "homeassistant/status")
    births.close()
    stack.alarm(kind="vehicle")
    wait_until("Home Assistant's HTTP server", stack.ha._http_up)
    stack.ha.wait_running()
    stack.ha.wait_state("event.driveway_alarm_event",
                        lambda s: s["attributes"].get("event_type") == "vehicle", "vehicle")
    # The trigger fired while nothing could listen yet: the automation's trace shows it ran.
    traces = wait_until("the automation ran", lambda: stack.ha.ws_call(
        {"type": "trace/list", "domain": "automation", "item_id": "driveway_any"}))
    assert len(traces) == 1, traces
    trace = stack.ha.ws_call({"type": "trace/get", "domain": "automation",
                              "item_id": "driveway_any", "run_id": traces[0]["run_id"]})
    assert trace["context"] and trace["trace"]["trigger/0"][0]["changed_variables"]["trigger"][
        "payload_json"]["event_type"] == "vehicle"


def test_a_new_cameras_first_message_is_an_alarm_that_reaches_its_event_entity(stack):
    stack.start(bridge_config(stack.broker.port, "discover_unknown: true"))
    stack.wait_entity("camera.driveway")
    stack.alarm(BARN, kind="tamper")
    name = f"sc211_{BARN.lower()}"
    stack.ha.wait_state(f"event.{name}_alarm_event",
                        lambda s: s["attributes"].get("event_type") == "tamper", "tamper")
    assert stack.ha.state(f"binary_sensor.{name}_alarm")["state"] == "on"


def test_a_wildcard_alarm_trigger_runs_twice_before_2026_and_the_alarm_feed_once_everywhere(
        stack, ha_version):
    """The README's advice, shown: an automation on `solarcam/+/alarm/event` overlaps the event
    entity's own subscription, Mosquitto delivers each alarm once per subscription, and 2025.4
    and 2025.10 run the automation for each copy (measured: 2 runs; 2026.11 runs it once); one on
    the alarm feed, `solarcam/alarms`, runs once on every release."""
    stack.start()
    stack.wait_entity("event.driveway_alarm_event")
    for name, topic in [("wildcard", "solarcam/+/alarm/event"), ("feed", "solarcam/alarms")]:
        save_automation(stack.ha, f"alarm_{name}", {
            "alias": f"Alarm {name}",
            "trigger": [{"platform": "mqtt", "topic": topic}],
            "action": [{"event": f"test_alarm_{name}",
                        "event_data": {"kind": "{{ trigger.payload_json.event_type }}"}}]})
    wildcard, feed = stack.record("test_alarm_wildcard"), stack.record("test_alarm_feed")
    until_subscribed(stack, wildcard, feed)

    stack.alarm(kind="PIR")
    pir = lambda r: [e for e in r.events if e["data"]["kind"] == "pir"]  # noqa: E731
    year, month = (int(x) for x in ha_version.split(".")[:2])
    copies = 1 if (year, month) >= (2026, 11) else 2
    wait_until("the feed's run", lambda: pir(feed))
    wait_until(f"{copies} wildcard runs", lambda: len(pir(wildcard)) >= copies)
    # A copy more would arrive within this; the broker holds nothing back on loopback.
    time.sleep(2)
    print(f"Home Assistant {ha_version}: wildcard {len(pir(wildcard))}, feed {len(pir(feed))}")
    assert (len(pir(wildcard)), len(pir(feed))) == (copies, 1), (wildcard.events, feed.events)

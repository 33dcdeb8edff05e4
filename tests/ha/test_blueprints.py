"""The shipped blueprints, imported and instantiated in a real Home Assistant, notifying a phone
registered as the Home Assistant app registers (notifications arrive over its push channel).

A notification that should not happen is ruled out by a marker: after each disruption a real
alarm of a kind not used before is raised, and the phone must get exactly the expected
notifications in order, nothing between them."""

import time

from homeassistant.const import __version__

from conftest import (BARN, DRIVEWAY, bridge_config, bridge_lines, device_id, install_blueprint,
                      jpeg, register_phone, runs_that_acted, save_automation)
from harness import wait_until

BOTH = """\
  - mac: 5C:C5:63:8A:E2:4C
    name: Driveway
  - mac: 5C:C5:63:8A:E2:4D
    name: Barn
"""


def alarm_automation(stack, phone, cameras, **inputs):
    path = install_blueprint(stack.ha, "solarcam_alarm_notify.yaml")
    devices = [device_id(stack.ha, f"solarcam_{m.lower()}") for m in cameras]
    config = {"alias": "Camera alarms", "trace": {"stored_traces": 20},
              "use_blueprint": {"path": path, "input": {
                  "cameras": devices, "notify_device": phone, **inputs}}}
    # The alarms sent right after are not to race the automation's subscription to the feed.
    with stack.ha.subscribing_to("solarcam/alarms"):
        return save_automation(stack.ha, "solarcam_alarms", config)


def messages(recorder):
    return [n["message"] for n in recorder.notifications]


def expect(recorder, wanted: list[str]):
    """The phone got exactly these messages' kinds, in order (they start with the kind)."""
    wait_until(f"{len(wanted)} notifications", lambda: len(recorder.notifications) >= len(wanted))
    got = [m.split(" alarm at ")[0] for m in messages(recorder)]
    assert got == wanted, messages(recorder)


def test_the_alarm_blueprint_notifies_once_per_alarm_and_never_on_a_restart(stack):
    stack.start(bridge_config(stack.broker.port, cameras=BOTH))
    stack.wait_entity("camera.driveway")
    phone, webhook = register_phone(stack.ha)
    alarm_automation(stack, phone, [DRIVEWAY], cooldown=0, wait_for_picture=0)
    phone_rx = stack.record(push_webhook=webhook)

    stack.alarm(kind="PIR")
    expect(phone_rx, ["Pir"])
    first = phone_rx.notifications[0]
    assert first["title"] == "Driveway"
    assert first["data"]["tag"] == f"solarcam-alarm-{DRIVEWAY.lower()}"
    # Tapping opens the camera: Android's clickAction, iOS's entity_id (no url, which iOS would
    # open instead).
    assert first["data"]["clickAction"] == "entityId:camera.driveway"
    assert first["data"]["entity_id"] == "camera.driveway"
    assert "url" not in first["data"] and "alert_once" not in first["data"]

    # The bridge restarts (an upgrade, systemctl restart): its entities go unavailable and back.
    stack.bridge.stop()
    stack.ha.wait_state("event.driveway_alarm_event", lambda s: s["state"] == "unavailable",
                        "unavailable while the bridge is down")
    stack.bridge.start()
    stack.wait_entity("event.driveway_alarm_event")
    stack.alarm(kind="motion")
    expect(phone_rx, ["Pir", "Motion"])

    # Home Assistant's broker restarts: the bridge and Home Assistant lose it and reconnect.
    connects = stack.bridge.log_text().count("Home Assistant broker: connected")
    stack.broker.stop()
    stack.broker.start()
    wait_until("the bridge reconnected", lambda: stack.bridge.log_text().count(
        "Home Assistant broker: connected") > connects)
    stack.wait_entity("event.driveway_alarm_event")
    stack.alarm(kind="human")
    expect(phone_rx, ["Pir", "Motion", "Person"])

    # The camera wakes from sleep (its status), and an edit of the bridge's file is applied.
    stack.status()
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "87", "87 %")
    stack.bridge.write_config(bridge_config(stack.broker.port, "alarm_off_after: 10s",
                                            cameras=BOTH))
    stack.bridge.wait_log("the edit applied", "configuration reloaded")
    stack.alarm(kind="vehicle")
    expect(phone_rx, ["Pir", "Motion", "Person", "Vehicle"])

    # Home Assistant restarts (the phone's push channel with it). A notification sent before the
    # phone is back would be lost to it, not to the automation's traces: they count every run
    # that acted.
    stack.ha.restart()
    stack.wait_entity("event.driveway_alarm_event")
    phone_rx = stack.record(push_webhook=webhook)
    stack.alarm(kind="tamper")
    expect(phone_rx, ["Tamper"])
    wait_until("5 runs that notified", lambda: runs_that_acted(stack.ha, "solarcam_alarms") == 5)
    # Another camera's alarms are not this automation's: Barn's PIR goes first, Driveway's after
    # it, and only Driveway's is notified (by its title, not only its kind), in one more run.
    stack.alarm(BARN, kind="PIR")
    stack.alarm(kind="PIR")
    expect(phone_rx, ["Tamper", "Pir"])
    assert phone_rx.notifications[1]["title"] == "Driveway", messages(phone_rx)
    wait_until("6 runs that notified", lambda: runs_that_acted(stack.ha, "solarcam_alarms") >= 6)
    # Home Assistant handles the two events in order: a run for Barn's would be counted by now.
    assert runs_that_acted(stack.ha, "solarcam_alarms") == 6
    assert len(phone_rx.notifications) == 2, messages(phone_rx)
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())


def test_the_alarm_blueprint_notifies_at_once_then_adds_the_picture_silently_with_a_cooldown_per_camera(stack):
    stack.start(bridge_config(stack.broker.port, cameras=BOTH))
    stack.wait_entity("camera.driveway")
    stack.wait_entity("camera.barn")
    phone, webhook = register_phone(stack.ha)
    alarm_automation(stack, phone, [DRIVEWAY, BARN], cooldown=60, kinds=["pir", "motion"],
                     tap_url="/lovelace/cameras")
    phone_rx = stack.record(push_webhook=webhook)

    # The alarm reaches the phone before any picture exists: the camera's picture is held back
    # until the first notification is there.
    stack.alarm(kind="PIR")
    wait_until("the first notification", lambda: phone_rx.notifications)
    first = phone_rx.notifications[0]
    assert (first["title"], first["data"]["url"]) == ("Driveway", "/lovelace/cameras")
    assert first["data"]["clickAction"] == "/lovelace/cameras"
    assert "image" not in first["data"] and "alert_once" not in first["data"], first
    assert "push" not in first["data"], "the first one sounds"

    picture = jpeg(1)
    stack.snapshot(DRIVEWAY.encode() + picture)
    wait_until("the picture", lambda: len(phone_rx.notifications) >= 2)
    update = phone_rx.notifications[1]
    # The same notification (its tag), now with the picture, and no second sound.
    assert update["data"]["tag"] == first["data"]["tag"] == f"solarcam-alarm-{DRIVEWAY.lower()}"
    assert (update["title"], update["message"]) == (first["title"], first["message"])
    assert update["data"]["alert_once"] is True
    assert update["data"]["push"] == {"interruption-level": "passive"}
    assert update["data"]["image"].startswith("/api/image_proxy/image.driveway_last_alarm_snapshot")
    r = stack.ha.get_bytes(update["data"]["image"])
    assert r.status_code == 200 and r.content == picture

    # Driveway keeps alarming: within its cooldown nothing more; Barn is not held by it; a kind
    # not chosen notifies nothing.
    stack.alarm(kind="motion")
    stack.alarm(kind="tamper")
    stack.alarm(BARN, kind="motion")
    wait_until("Barn's notification", lambda: len(phone_rx.notifications) >= 3)
    stack.snapshot(BARN.encode() + jpeg(3))
    wait_until("Barn's picture", lambda: len(phone_rx.notifications) >= 4)
    stack.alarm(BARN, kind="pir")  # Barn's own cooldown now
    stack.alarm(kind="pir")
    # Every run has ended (its trace says so): these four notifications are all there will be.
    def ended():
        t = stack.ha.ws_call({"type": "trace/list", "domain": "automation",
                              "item_id": "solarcam_alarms"})
        return t if len(t) == 6 and all(x["state"] == "stopped" for x in t) else None

    traces = wait_until("6 runs, all ended", ended)
    assert [(x["title"], "image" in x["data"]) for x in phone_rx.notifications] == [
        ("Driveway", False), ("Driveway", True), ("Barn", False), ("Barn", True)]
    assert phone_rx.notifications[3]["data"]["tag"] == f"solarcam-alarm-{BARN.lower()}"
    # The four alarms not notified were stopped by a condition, not by an error.
    assert sum(1 for t in traces if t.get("script_execution") == "failed_conditions") == 4, traces


def test_the_alarm_blueprint_times_from_alarm_to_phone_and_from_picture_to_phone(stack):
    """Figures for the README: how long from the camera's alarm (its message on the broker) to
    the phone's notification, and from the camera's picture to the notification's update. The
    bridge holds an alarm for up to 3 s right after it announces a camera (Home Assistant
    subscribes a moment after a config); such an alarm is reported apart."""
    stack.start(bridge_config(stack.broker.port, cameras=BOTH))
    stack.wait_entity("camera.driveway")
    phone, webhook = register_phone(stack.ha)
    alarm_automation(stack, phone, [DRIVEWAY], cooldown=0)
    phone_rx = stack.record(push_webhook=webhook)
    to_alarm, to_picture, held = [], [], 0
    sent = 0.0
    for n in range(6):
        # A picture from within a second before an alarm counts as that alarm's: the next alarm
        # comes later than that, as a new alarm after a picture does.
        wait_until("the last picture a second old", lambda: time.monotonic() - sent > 1.2)
        holds = stack.bridge.log_text().count("alarm event held")
        before = len(phone_rx.notifications)
        alarmed = time.monotonic()
        stack.alarm(kind="PIR")
        wait_until(f"alarm {n}'s notification", lambda: len(phone_rx.notifications) > before)
        sent = time.monotonic()
        stack.snapshot(DRIVEWAY.encode() + jpeg(10 + n))
        wait_until(f"alarm {n}'s picture", lambda: len(phone_rx.notifications) > before + 1)
        update = phone_rx.notifications[before + 1]
        assert update["data"]["alert_once"] is True and "image" in update["data"], update
        if stack.bridge.log_text().count("alarm event held") > holds:
            held += 1
            continue
        to_alarm.append((phone_rx.arrivals[before] - alarmed) * 1000)
        to_picture.append((phone_rx.arrivals[before + 1] - sent) * 1000)
    assert len(to_alarm) >= 4, f"{held} of 6 alarms held"
    to_alarm.sort()
    to_picture.sort()
    median_alarm, median_picture = to_alarm[len(to_alarm) // 2], to_picture[len(to_picture) // 2]
    print(f"\nHome Assistant {__version__}, {len(to_alarm)} alarms ({held} held after an "
          f"announcement): alarm to notification median {median_alarm:.0f} ms "
          f"(max {to_alarm[-1]:.0f}); picture to updated notification median "
          f"{median_picture:.0f} ms (max {to_picture[-1]:.0f})")
    # The README's promise, held to a bound far above the figures it states (tens of ms), so that
    # a loaded machine passes and a notification that waits for something fails.
    assert median_alarm < 1000, f"alarm to notification: median {median_alarm:.0f} ms"
    assert median_picture < 1000, f"picture to updated notification: median {median_picture:.0f} ms"


def health_automation(stack, phone, **inputs):
    path = install_blueprint(stack.ha, "solarcam_health_notify.yaml")
    camera = device_id(stack.ha, f"solarcam_{DRIVEWAY.lower()}")
    config = {"alias": "Driveway health", "trace": {"stored_traces": 20},
              "use_blueprint": {"path": path, "input": {
                  "camera": camera, "notify_device": phone, **inputs}}}
    return save_automation(stack.ha, "driveway_health", config)


def test_the_health_blueprint_tells_once_when_a_battery_runs_low_and_once_when_it_recovers(stack):
    stack.start()
    stack.wait_entity("camera.driveway")
    stack.status(battery=60)
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "60", "60 %")
    phone, webhook = register_phone(stack.ha)
    health_automation(stack, phone, battery_below=20, silent_for={"hours": 1})
    phone_rx = stack.record(push_webhook=webhook)

    # Read with the rest of its status at once, a real change is still told.
    stack.status_in_one_go(["battery"], battery=15)
    wait_until("the low battery", lambda: phone_rx.notifications)
    n = phone_rx.notifications[0]
    assert (n["title"], n["message"]) == ("Driveway", "Battery at 15 % (below 20 %).")
    assert n["data"]["tag"].startswith("solarcam-battery-")
    stack.status(battery=14)  # still low: nothing new
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "14", "14 %")

    # Restarts: the battery comes back from "unavailable" still low. Not a new low.
    stack.bridge.stop()
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "unavailable",
                        "unavailable")
    stack.bridge.start()
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "14", "14 % again")
    stack.ha.restart()
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "14", "14 % again")
    phone_rx = stack.record(push_webhook=webhook)
    stack.status(battery=35)
    wait_until("the recovery", lambda: phone_rx.notifications)
    assert [x["message"] for x in phone_rx.notifications] == ["Battery back at 35 %."]
    # Two runs acted in all (low, recovered), across both restarts.
    wait_until("two runs that notified", lambda: runs_that_acted(stack.ha, "driveway_health") == 2)
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())


def test_the_health_blueprint_tells_nothing_of_a_new_cameras_first_status_read_all_at_once(stack):
    """A camera's first status turns "Awake" from asleep to awake, and gives "Last status" and
    "Battery" their first values, in one burst. Read in one turn of Home Assistant's loop (a busy
    machine), every template trigger is credited to the first entity that changed, "Awake", whose
    old state is a real one: the camera looked "back" and its battery "back at 60 %"."""
    stack.start()
    stack.wait_entity("camera.driveway")
    phone, webhook = register_phone(stack.ha)
    health_automation(stack, phone, battery_below=20, silent_for={"hours": 1})
    phone_rx = stack.record(push_webhook=webhook)
    stack.status_in_one_go(["awake", "status", "last_status", "battery"], battery=60)
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "60", "60 %")
    # The marker: a real low, whose notification must be the first and only one.
    stack.status_in_one_go(["battery"], battery=15)
    wait_until("the low battery", lambda: phone_rx.notifications)
    assert messages(phone_rx) == ["Battery at 15 % (below 20 %)."]
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())


def test_the_health_blueprint_tells_once_when_a_camera_goes_silent_and_when_it_is_back(stack):
    stack.start()
    stack.wait_entity("camera.driveway")
    # The automation first, the status after: a template trigger fires when its template turns
    # true, so "silent" must be false when the automation starts. Set up after a status more
    # than 2 s old, it would start true and never fire (a 2024.3.3 run found that race, which
    # any release can meet).
    phone, webhook = register_phone(stack.ha)
    health_automation(stack, phone, battery_below=20, silent_for={"seconds": 2})
    phone_rx = stack.record(push_webhook=webhook)
    stack.status(battery=60)
    stack.ha.wait_state("sensor.driveway_last_status", lambda s: s["state"] != "unknown",
                        "a status")
    # The first status is not the camera coming back (it appears from "unknown").
    # "Silent" is checked as the clock turns: within a minute of the status growing 2 s old.
    wait_until("the silence", lambda: phone_rx.notifications, timeout=90)
    n = phone_rx.notifications[0]
    assert n["title"] == "Driveway" and n["message"].startswith("Nothing from the camera since")
    # Both "silent" and "back" are re-evaluated at the minute's turn, each on its own timer a few
    # milliseconds apart; a camera returning within those milliseconds (only a test can) would
    # find "back" not yet false. It returns a second later.
    time.sleep(1)
    stack.status_in_one_go(["last_status"], battery=60)
    wait_until("the camera back", lambda: len(phone_rx.notifications) >= 2)
    assert phone_rx.notifications[1]["message"] == "The camera is reporting again."
    assert phone_rx.notifications[1]["data"]["tag"] == n["data"]["tag"], "it replaces the first"
    assert len(phone_rx.notifications) == 2


def test_the_blueprints_defaults_are_the_readmes_as_home_assistant_reads_them(stack):
    """README: a cooldown per camera of 2 minutes and a picture waited for up to 30 s by default;
    the health blueprint's 12 hours and 20 %."""
    stack.start()
    stack.wait_entity("camera.driveway")
    install_blueprint(stack.ha, "solarcam_alarm_notify.yaml")
    install_blueprint(stack.ha, "solarcam_health_notify.yaml")
    listed = stack.ha.ws_call({"type": "blueprint/list", "domain": "automation"})
    inputs = {path.rsplit("/", 1)[-1]: bp["metadata"]["input"] for path, bp in listed.items()
              if "metadata" in bp}
    alarm, health = inputs["solarcam_alarm_notify.yaml"], inputs["solarcam_health_notify.yaml"]
    assert alarm["cooldown"]["default"] == 2 * 60
    assert alarm["cooldown"]["selector"]["number"]["unit_of_measurement"] == "s"
    assert alarm["wait_for_picture"]["default"] == 30
    assert health["silent_for"]["default"] == {"hours": 12}
    assert health["battery_below"]["default"] == 20


def test_the_alarm_blueprint_by_default_adds_a_picture_within_30_s_and_always_tells_the_first_alarm_after_the_sensor_went_off(stack):
    # The bridge's own window made longer than the blueprint's wait, so that what is measured is
    # the blueprint's 30 s; the Alarm sensor off 5 s after an alarm.
    stack.start(bridge_config(stack.broker.port,
                              "alarm_off_after: 5s\nalarm_snapshot_window: 90s"))
    stack.wait_entity("camera.driveway")
    phone, webhook = register_phone(stack.ha)
    # Defaults for the cooldown (2 minutes) and the picture's wait; other actions: an event with
    # the blueprint's variables.
    alarm_automation(stack, phone, [DRIVEWAY], notify_actions=[{
        "event": "solarcam_test_other_action",
        "event_data": {"camera": "{{ camera_name }}", "image": "{{ image }}"}}])
    rx = stack.record("solarcam_test_other_action", push_webhook=webhook)

    stack.alarm(kind="PIR")
    expect(rx, ["Pir"])
    # Within the cooldown while the Alarm sensor is still on: nothing.
    stack.alarm(kind="motion")
    stack.ha.wait_state("binary_sensor.driveway_alarm", lambda s: s["state"] == "off",
                        "the Alarm sensor off")
    # The first alarm after it went off notifies, well within the 2-minute cooldown.
    stack.alarm(kind="person")
    alarm_at = time.monotonic()
    expect(rx, ["Pir", "Person"])
    # Its picture 28 s later is added to the same notification, silently.
    time.sleep(max(0.0, alarm_at + 28 - time.monotonic()))
    picture = jpeg(51)
    stack.snapshot(picture)
    wait_until("the picture added", lambda: len(rx.notifications) >= 3, timeout=10)
    added = rx.notifications[2]
    assert added["data"]["alert_once"] is True and added["data"]["tag"] == rx.notifications[1]["data"]["tag"]
    assert added["data"]["image"].startswith("/api/image_proxy/image.driveway_last_alarm_snapshot")

    # The next alarm (the sensor went off meanwhile): its picture 32 s later is past the wait.
    stack.ha.wait_state("binary_sensor.driveway_alarm", lambda s: s["state"] == "off",
                        "the Alarm sensor off")
    time.sleep(2)  # so that this alarm's run does not take the last picture as its own burst's
    stack.alarm(kind="vehicle")
    alarm_at = time.monotonic()
    wait_until("the vehicle alarm", lambda: len(rx.notifications) >= 4)
    time.sleep(max(0.0, alarm_at + 32 - time.monotonic()))
    stack.snapshot(jpeg(52))
    stack.ha.wait_state("image.driveway_last_alarm_snapshot",
                        lambda s: s["state"] not in ("unknown", "unavailable"), "the picture")
    time.sleep(2)  # so that the marker's run does not take this picture as its own burst's
    # A marker: one more alarm after the sensor went off; nothing came between.
    stack.ha.wait_state("binary_sensor.driveway_alarm", lambda s: s["state"] == "off",
                        "the Alarm sensor off")
    stack.alarm(kind="tamper")
    wait_until("the marker", lambda: len(rx.notifications) >= 5)
    got = [(m["message"].split(" alarm at ")[0], "image" in m["data"]) for m in rx.notifications]
    assert got == [("Pir", False), ("Person", False), ("Person", True), ("Vehicle", False),
                   ("Tamper", False)], got
    # The other actions ran once per run that notified, with the run's picture when it had one.
    wait_until("the other actions", lambda: len(rx.events) >= 4, timeout=45)
    ran = [(e["data"]["camera"], e["data"]["image"] != "") for e in rx.events]
    assert ran == [("Driveway", False), ("Driveway", True), ("Driveway", False),
                   ("Driveway", False)], ran
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())

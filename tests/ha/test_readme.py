"""The README's example automations, loaded as written into a real Home Assistant."""

import re

from conftest import (BARN, DRIVEWAY, DRIVEWAY_IN_GARDEN_AND_BARN, ROOT, bridge_config, bridge_lines,
                      jpeg, register_phone)
from harness import wait_until

BOTH = DRIVEWAY_IN_GARDEN_AND_BARN


def readme_automations() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Automations\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "the three examples"
    return "".join(blocks)


def test_the_readmes_automations_notify_on_real_alarms_and_low_batteries_only(stack):
    stack.start(bridge_config(stack.broker.port, cameras=BOTH))
    stack.wait_entity("event.driveway_alarm_event")
    stack.status(battery=60)
    stack.status(BARN, battery=70)
    stack.ha.wait_state("sensor.barn_battery", lambda s: s["state"] == "70", "70 %")
    _, webhook = register_phone(stack.ha, "My Phone")
    (stack.ha.dir / "automations.yaml").write_text(readme_automations())
    stack.ha.post("/api/services/automation/reload")
    wait_until("3 automations on", lambda: len([
        s for s in stack.ha.get("/api/states")
        if s["entity_id"].startswith("automation.") and s["state"] == "on"]) == 3)
    phone = stack.record(push_webhook=webhook)

    def messages():
        return [n["message"] for n in phone.notifications]

    # A real alarm and its picture.
    picture = jpeg(5)
    stack.alarm(kind="PIR")
    stack.snapshot(DRIVEWAY.encode() + picture)
    wait_until("the alarm's notification", lambda: messages() == ["Driveway: pir alarm"])
    image = phone.notifications[0]["data"]["image"]
    assert stack.ha.get_bytes(image).content == picture
    # A real low battery.
    stack.status(battery=15)
    wait_until("the battery's notification", lambda: len(messages()) == 2)
    assert messages()[1] == "Driveway Battery is at 15%"

    # Restarts: the bridge, then Home Assistant. A marker alarm after each: nothing before it.
    stack.bridge.stop()
    stack.ha.wait_state("event.driveway_alarm_event", lambda s: s["state"] == "unavailable",
                        "unavailable")
    stack.bridge.start()
    stack.wait_entity("event.driveway_alarm_event")
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "15", "15 % again")
    stack.alarm(kind="motion")
    stack.snapshot(DRIVEWAY.encode() + jpeg(6))
    wait_until("the marker", lambda: len(messages()) >= 3)
    assert messages()[2:] == ["Driveway: motion alarm"], messages()

    stack.ha.restart()
    stack.wait_entity("event.driveway_alarm_event")
    stack.ha.wait_state("sensor.driveway_battery", lambda s: s["state"] == "15", "15 % again")
    phone = stack.record(push_webhook=webhook)
    stack.alarm(kind="vehicle")
    stack.snapshot(DRIVEWAY.encode() + jpeg(7))
    wait_until("the marker", lambda: len(messages()) >= 1)
    assert messages() == ["Driveway: vehicle alarm"], messages()

    # Wake at 7:00, run now: both cameras get their wake.
    cams = stack.broker.subscriber("4GSolarCam/Wake/+")
    try:
        stack.ha.post("/api/services/automation/trigger",
                      {"entity_id": "automation.wake_the_cameras"})
        cams.wait_for("Driveway's wake", f"4GSolarCam/Wake/{DRIVEWAY}")
        cams.wait_for("Barn's wake", f"4GSolarCam/Wake/{BARN}")
    finally:
        cams.close()
    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())

"""What a user sees on a dashboard and presses on it: the camera's picture through Home
Assistant's camera proxy, the alarm's picture through the image entity, and each button."""

import asyncio
import base64
import json

from conftest import DRIVEWAY, jpeg
from harness import WebSocket, wait_until


def xxd(data: bytes) -> str:
    lines = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        groups = " ".join(chunk[j:j + 2].hex() for j in range(0, len(chunk), 2))
        lines.append(f"{i:08x}: {groups}  ................")
    return "\n".join(lines) + "\n"


def forms(img: bytes) -> list[tuple[str, str, bytes]]:
    b64 = base64.b64encode(img).decode()
    own = f"4GSolarCam/Snapshot/{DRIVEWAY}"
    shared = "4GSolarCam/Snapshot"
    return [
        ("raw", own, img),
        ("binary header", shared, b"\x02\x00SC211\x00mac=5CC5638AE24C\x00\x00\x00\x10" + img),
        ("text header", shared, b"MAC:5C:C5:63:8A:E2:4C\r\n\r\n" + img),
        ("hex dump", own, " ".join(f"{b:02x}" for b in img).encode()),
        ("xxd", own, xxd(img).encode()),
        ("base64", own, b64.encode()),
        ("data url", own, f"data:image/jpeg;base64,{b64}".encode()),
        ("json base64", shared, json.dumps({"devMac": DRIVEWAY, "image": b64}).encode()),
        ("json hex", shared, json.dumps({"mac": DRIVEWAY, "pic": img.hex()}).encode()),
    ]


def test_every_snapshot_form_reaches_the_camera_entity_byte_for_byte(stack):
    stack.start()
    stack.wait_entity("camera.driveway")
    for i, (form, topic, payload) in enumerate(forms(jpeg(10))):
        img = jpeg(100 + i)
        payload = next(p for f, t, p in forms(img) if f == form)
        stack.broker.pub(topic, payload)

        def shown():
            r = stack.ha.get_bytes("/api/camera_proxy/camera.driveway")
            return r.status_code == 200 and r.content == img

        wait_until(f"the {form} snapshot through camera_proxy", shown)
    # The alarm's picture: the image entity, while newer snapshots replace the camera's.
    alarm_picture, later = jpeg(200), jpeg(201)
    stack.alarm()
    stack.snapshot(DRIVEWAY.encode() + alarm_picture)
    stack.snapshot(DRIVEWAY.encode() + later)
    image = stack.ha.wait_state("image.driveway_last_alarm_snapshot",
                                lambda s: s["state"] not in ("unknown", "unavailable"), "a picture")
    wait_until("the camera shows the later snapshot",
               lambda: stack.ha.get_bytes("/api/camera_proxy/camera.driveway").content == later)
    r = stack.ha.get_bytes(image["attributes"]["entity_picture"])
    assert r.status_code == 200 and r.content == alarm_picture
    assert r.headers["Content-Type"] == "image/jpeg"


def enable(stack, entity_ids):
    """Settings > Entities > enable: Home Assistant reloads the integration for it."""
    async def run():
        async with WebSocket(stack.ha) as ws:
            for e in entity_ids:
                await ws.call({"type": "config/entity_registry/update", "entity_id": e,
                               "disabled_by": None})
    asyncio.run(run())
    entry = next(e for e in stack.ha.get("/api/config/config_entries/entry")
                 if e["domain"] == "mqtt")
    stack.ha.post(f"/api/config/config_entries/entry/{entry['entry_id']}/reload")
    for e in entity_ids:
        stack.wait_entity(e)


def test_each_button_pressed_in_home_assistant_sends_the_cameras_command(stack):
    stack.start()
    stack.wait_entity("button.driveway_wake")
    enable(stack, ["button.driveway_shut_down", "button.driveway_firmware_upgrade"])
    cam = stack.broker.subscriber("4GSolarCam/+/" + DRIVEWAY)
    try:
        # Asleep: Wake goes at once; the others wait for the camera to speak.
        stack.ha.press("button.driveway_wake")
        cam.wait_for("wake", f"4GSolarCam/Wake/{DRIVEWAY}")
        stack.ha.press("button.driveway_request_status")
        stack.ha.wait_state("sensor.driveway_pending_commands", lambda s: s["state"] == "1",
                            "one command queued")
        assert cam.on(f"4GSolarCam/Status/{DRIVEWAY}") == []
        stack.status()  # it wakes: its status comes first
        assert cam.wait_for("status sent after the wake", f"4GSolarCam/Status/{DRIVEWAY}") \
            == [b"status"]
        stack.ha.wait_state("sensor.driveway_pending_commands", lambda s: s["state"] == "0",
                            "the queue empty")
        # Awake now: each goes at once.
        for button, word in [("reboot", b"reboot"), ("shut_down", b"shutdown"),
                             ("firmware_upgrade", b"upgrade")]:
            before = len(cam.on(f"4GSolarCam/Config/{DRIVEWAY}"))
            stack.ha.press(f"button.driveway_{button}")
            got = cam.wait_for(button, f"4GSolarCam/Config/{DRIVEWAY}", before + 1)
            assert got[-1] == word
        # The button's wake, and the one the queue sent for the status.
        assert cam.on(f"4GSolarCam/Wake/{DRIVEWAY}") == [b"wake", b"wake"]
    finally:
        cam.close()

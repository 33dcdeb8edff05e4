"""What a user sees under Settings > Devices: every entity of a camera and of the bridge, as Home
Assistant itself registered it, and the devices."""

import asyncio

from conftest import BARN, DRIVEWAY, DRIVEWAY_IN_GARDEN_AND_BARN, bridge_config, bridge_lines
from harness import WebSocket, wait_until

# unique_id suffix: (entity_id, device class, unit, entity category, enabled by default)
CAMERA = {
    "snapshot": ("camera.driveway", None, None, None, True),
    "alarm": ("binary_sensor.driveway_alarm", "motion", None, None, True),
    "alarm_event": ("event.driveway_alarm_event", "motion", None, None, True),
    "alarm_snapshot": ("image.driveway_last_alarm_snapshot", None, None, None, True),
    "battery": ("sensor.driveway_battery", "battery", "%", None, True),
    "battery_voltage": ("sensor.driveway_battery_voltage", "voltage", "V", "diagnostic", True),
    "signal": ("sensor.driveway_signal_strength", "signal_strength", "dBm", "diagnostic", True),
    "last_status": ("sensor.driveway_last_status", "timestamp", None, "diagnostic", True),
    "awake": ("sensor.driveway_awake", "enum", None, "diagnostic", True),
    "last_seen": ("sensor.driveway_last_seen", "timestamp", None, "diagnostic", False),
    "pending_commands": ("sensor.driveway_pending_commands", None, None, "diagnostic", True),
    "wake": ("button.driveway_wake", None, None, None, True),
    "request_status": ("button.driveway_request_status", None, None, None, True),
    "reboot": ("button.driveway_reboot", "restart", None, "config", True),
    "shutdown": ("button.driveway_shut_down", None, None, "config", False),
    "upgrade": ("button.driveway_firmware_upgrade", "update", None, "config", False),
}

BRIDGE = {
    "connectivity": ("binary_sensor.solarcam_bridge_connectivity", "connectivity"),
    "camera_broker": ("binary_sensor.solarcam_bridge_camera_broker", "connectivity"),
    "config_problem": ("binary_sensor.solarcam_bridge_configuration_problem", "problem"),
    "messages_received": ("sensor.solarcam_bridge_messages_received", None),
    "messages_published": ("sensor.solarcam_bridge_messages_published", None),
    "payloads_rejected": ("sensor.solarcam_bridge_payloads_rejected", None),
    "payloads_unattributed": ("sensor.solarcam_bridge_payloads_unattributed", None),
    "unlisted_cameras_refused": ("sensor.solarcam_bridge_unlisted_cameras_refused", None),
    "reconnects": ("sensor.solarcam_bridge_reconnects", None),
    "snapshots_not_archived": ("sensor.solarcam_bridge_snapshots_not_archived", None),
    "last_error": ("sensor.solarcam_bridge_last_error", None),
}


def extended(ha, entity_ids):
    async def run():
        async with WebSocket(ha) as ws:
            return {e: await ws.call({"type": "config/entity_registry/get", "entity_id": e})
                    for e in entity_ids}
    return asyncio.run(run())


def test_every_entity_of_a_camera_and_of_the_bridge_appears_as_announced(stack):
    # The cameras on a broker of their own (here: the same Mosquitto under another name), so the
    # bridge also shows its link to it.
    cfg = bridge_config(stack.broker.port, f"camera_mqtt:\n  url: mqtt://localhost:{stack.broker.port}")
    stack.start(cfg)
    stack.wait_entity("camera.driveway")
    # Battery voltage and signal appear with the first status that reports them; the firmware too.
    stack.status()
    stack.ha.wait_state("sensor.driveway_signal_strength", lambda s: s["state"] == "-73", "-73 dBm")

    entities, devices = stack.ha.registry()
    ours = {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}
    details = extended(stack.ha, [e["entity_id"] for e in ours.values()])
    states = {s["entity_id"]: s for s in stack.ha.get("/api/states")}
    node = f"solarcam_{DRIVEWAY.lower()}"
    for key, (entity_id, device_class, unit, category, enabled) in CAMERA.items():
        e = ours.get(f"{node}_{key}")
        assert e, f"{key}: not registered; have {sorted(ours)}"
        assert e["entity_id"] == entity_id, key
        assert e["entity_category"] == category, key
        assert (e["disabled_by"] is None) == enabled, (key, e["disabled_by"])
        assert details[entity_id]["original_device_class"] == device_class, key
        if enabled:
            attrs = states[entity_id]["attributes"]
            assert attrs.get("unit_of_measurement") == unit, key
            assert states[entity_id]["state"] != "unavailable", key
        else:
            assert entity_id not in states, f"{entity_id} is disabled and has no state"
    for key, (entity_id, device_class) in BRIDGE.items():
        e = ours.get(f"solarcam_bridge_{key}")
        assert e, f"bridge {key}: not registered"
        assert e["entity_id"] == entity_id
        assert e["entity_category"] == "diagnostic", key
        assert e["disabled_by"] is None, key
        assert details[entity_id]["original_device_class"] == device_class, key
    assert states["binary_sensor.solarcam_bridge_connectivity"]["state"] == "on"
    assert states["binary_sensor.solarcam_bridge_camera_broker"]["state"] == "on"
    assert states["binary_sensor.solarcam_bridge_configuration_problem"]["state"] == "off"
    assert states["sensor.solarcam_bridge_last_error"]["state"] == "none"
    assert len(ours) == len(CAMERA) + len(BRIDGE), sorted(ours)

    by_id = {d["id"]: d for d in devices}
    camera = next(d for d in devices if ["mqtt", node] in d["identifiers"])
    assert camera["name"] == "Driveway"
    assert camera["manufacturer"] == "Milesight"
    assert camera["model"] == "SC211"
    assert camera["sw_version"] == "V1.2.3"
    assert ["mac", "5c:c5:63:8a:e2:4c"] in camera["connections"]
    assert by_id[camera["via_device_id"]]["name"] == "SolarCam Bridge"
    assert camera["area_id"] == "garden", "the suggested area is created and used"
    assert all(ours[f"{node}_{k}"]["device_id"] == camera["id"] for k in CAMERA)

    assert not bridge_lines(stack.ha.log_text()), bridge_lines(stack.ha.log_text())


def test_an_unlisted_camera_appears_by_itself_and_goes_when_deleted(stack, request):
    # Deleting a device removes its entities one by one, and Home Assistant empties the device
    # config as it removes each: every one after the first finds nothing left and it warns so
    # (2026.x; the bridge adds none of its own).
    request.node.allowed_warnings = [f"No device components to cleanup for solarcam_{BARN.lower()},"]
    stack.start(bridge_config(stack.broker.port, "discover_unknown: true"))
    stack.wait_entity("camera.driveway")
    stack.status(BARN)
    name = f"sc211_{BARN.lower()}"
    stack.wait_entity(f"camera.{name}")
    s = stack.ha.wait_state(f"sensor.{name}_battery", lambda s: s["state"] == "87", "87 %")
    assert s["attributes"]["device_class"] == "battery"

    # Deleted on its device page (Delete), it goes, and its next report does not bring it back.
    _, devices = stack.ha.registry()
    device = next(d for d in devices if d["name"] == f"SC211 {BARN}")
    stack.ha.ws_call({"type": "config/device_registry/remove_config_entry",
                      "device_id": device["id"], "config_entry_id": device["config_entries"][0]})
    stack.bridge.wait_log("the deletion", "deleted in Home Assistant; forgotten")
    wait_until("its entities gone", lambda: stack.ha.state(f"camera.{name}") is None
               and stack.ha.state(f"sensor.{name}_battery") is None)
    stack.status(BARN, battery=55)
    stack.bridge.wait_log("its report refused",
                          "ignored: it was deleted in Home Assistant or removed from the file")
    assert stack.ha.state(f"camera.{name}") is None
    assert stack.ha.state(f"sensor.{name}_battery") is None
    entities, devices = stack.ha.registry()
    assert all(d["name"] != f"SC211 {BARN}" for d in devices)
    assert all(not e["entity_id"].endswith(f".{name}") for e in entities)
    # The listed camera is untouched.
    assert stack.ha.state("camera.driveway")["state"] != "unavailable"


def test_entity_ids_are_the_readmes_with_or_without_an_area_and_survive_a_rename(stack, request):
    """Home Assistant 2026.6 and later put a new entity's area in front of its id
    (camera.garden_driveway); the bridge's default_entity_id keeps the README's ids on every
    release. Renaming a camera in the file renames its device, not its entities' ids."""
    # A camera removed from the file: the bridge empties its device config once; Home Assistant
    # 2025.4 empties it again as it removes the entities, and warns that nothing is left.
    request.node.allowed_warnings = [f"No device components to cleanup for solarcam_{BARN.lower()},"]
    cameras = DRIVEWAY_IN_GARDEN_AND_BARN
    stack.start(bridge_config(stack.broker.port, cameras=cameras))
    stack.wait_entity("camera.driveway")
    stack.wait_entity("camera.barn")
    # Battery voltage and signal are created by the first status that reports them.
    keys = [k for k in CAMERA if k not in ("battery_voltage", "signal")]

    def registered():
        entities, devices = stack.ha.registry()
        mine = [e for e in entities if e["platform"] == "mqtt" and "bridge" not in e["unique_id"]]
        return (entities, devices) if len(mine) == 2 * len(keys) else None

    entities, devices = wait_until("both cameras' entities registered", registered)
    ids = {e["unique_id"]: e["entity_id"] for e in entities if e["platform"] == "mqtt"}
    for mac, name in ((DRIVEWAY, "driveway"), (BARN, "barn")):
        node = f"solarcam_{mac.lower()}"
        for key in keys:
            entity_id = CAMERA[key][0]
            assert ids.get(f"{node}_{key}") == entity_id.replace("driveway", name), (key, ids)
    areas = {d["name"]: d["area_id"] for d in devices}
    assert (areas["Driveway"], areas["Barn"]) == ("garden", None)

    renamed = cameras.replace("name: Driveway", "name: Front drive").replace("name: Barn",
                                                                             "name: Stable")
    stack.bridge.write_config(bridge_config(stack.broker.port, cameras=renamed))
    stack.bridge.wait_log("the rename applied", "configuration reloaded")

    def renamed_devices():
        _, devices = stack.ha.registry()
        names = {d["name"] for d in devices}
        return {"Front drive", "Stable"} <= names and devices

    wait_until("both devices renamed", renamed_devices)
    entities, _ = stack.ha.registry()
    after = {e["unique_id"]: e["entity_id"] for e in entities if e["platform"] == "mqtt"}
    assert after == ids
    assert stack.ha.state("camera.front_drive") is None
    stack.wait_entity("camera.driveway")
    stack.wait_entity("sensor.barn_battery")

    # Removed from the file: its device and every entity go from Home Assistant, the other
    # camera's stay.
    only_driveway = "\n".join(renamed.splitlines()[:3]) + "\n"
    assert "Stable" not in only_driveway and "Front drive" in only_driveway
    stack.bridge.write_config(bridge_config(stack.broker.port, cameras=only_driveway))

    def barn_gone():
        entities, devices = stack.ha.registry()
        node = f"solarcam_{BARN.lower()}"
        return (all(["mqtt", node] not in d["identifiers"] for d in devices)
                and all(not e["unique_id"].startswith(node) for e in entities)
                and stack.ha.state("sensor.barn_battery") is None)

    wait_until("the removed camera's device and entities gone", barn_gone)
    entities, _ = stack.ha.registry()
    left = {e["unique_id"]: e["entity_id"] for e in entities if e["platform"] == "mqtt"}
    assert {k: v for k, v in ids.items() if DRIVEWAY.lower() in k} == {
        k: v for k, v in left.items() if "bridge" not in k}

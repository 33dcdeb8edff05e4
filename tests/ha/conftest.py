"""Fixtures: each test gets its own Mosquitto, its own Home Assistant (a copy of a configuration
directory that went through onboarding and the MQTT integration's flow once per session) and its
own bridge. Their logs are attached to a failing test's report."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from harness import (ROOT, Bridge, EmbeddedBroker, EventRecorder, HomeAssistant, Mosquitto,
                     template_dir, wait_until)

DRIVEWAY = "5CC5638AE24C"
BARN = "5CC5638AE24D"

# The README's example camera, with its area (2026.6 and later would put the area in front of new
# entity ids, were it not for the bridge's default_entity_id), and one without an area.
DRIVEWAY_IN_GARDEN_AND_BARN = """\
  - mac: 5C:C5:63:8A:E2:4C
    name: Driveway
    area: Garden
  - mac: 5C:C5:63:8A:E2:4D
    name: Barn
"""


def jpeg(tag: int, size: int = 16) -> bytes:
    """A distinct real JPEG for each tag (Pillow is in Home Assistant's virtualenv)."""
    from PIL import Image

    image = Image.new("RGB", (size, size), ((tag * 37) % 256, (tag * 91) % 256, (tag * 13) % 256))
    buf = io.BytesIO()
    image.save(buf, "JPEG", comment=f"solarcam test {tag}".encode())
    return buf.getvalue()


def bridge_config(port: int, extra: str = "", cameras: str | None = None) -> str:
    if cameras is None:
        cameras = """\
  - mac: 5C:C5:63:8A:E2:4C
    name: Driveway
    area: Garden
"""
    return f"""\
mqtt:
  url: mqtt://127.0.0.1:{port}
log_level: debug
{extra}
cameras:
{cameras}"""


def embedded_config(port: int, extra: str = "") -> str:
    """The bridge running its own broker, the README's first-run setup."""
    return bridge_config(port, extra).replace(
        f"mqtt:\n  url: mqtt://127.0.0.1:{port}\n",
        f"mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n")


class Stack:
    """Mosquitto (or the bridge's own broker), Home Assistant and the bridge, as a user runs them."""

    def __init__(self, work: Path, template: Path, embedded: bool = False):
        self.work = work
        self.broker = EmbeddedBroker(work) if embedded else Mosquitto(work)
        self.ha = HomeAssistant(work, self.broker.port, template)
        self.bridge: Bridge | None = None
        self.recorders: list[EventRecorder] = []

    def start(self, config: str | None = None, ha_first: bool = True):
        config = config or bridge_config(self.broker.port)
        if ha_first:
            self.ha.start()
            self.bridge = Bridge(self.work, config)
        else:
            self.bridge = Bridge(self.work, config)
            self.ha.start()
        return self

    def wait_entity(self, entity_id: str) -> dict:
        return self.ha.wait_state(entity_id, lambda s: s["state"] != "unavailable",
                                  "available")

    def record(self, *event_types: str, push_webhook: str | None = None) -> EventRecorder:
        r = EventRecorder(self.ha, list(event_types), push_webhook)
        self.recorders.append(r)
        return r

    # What a camera sends, on the shared topics.
    def status(self, mac: str = DRIVEWAY, **fields):
        body = {"devMac": mac, "battery": 87, "voltage": 3.95, "csq": 20, "firmware": "V1.2.3",
                "model": "SC211"}
        body.update(fields)
        self.broker.pub("4GSolarCam/Status", json.dumps(body))

    def status_in_one_go(self, leaves: list[str], mac: str = DRIVEWAY, **fields):
        """A status whose states Home Assistant reads all at once, as a busy machine reads them:
        it is paused until the broker has passed on each of `leaves` (its topics under
        solarcam/<MAC>/), so one turn of its loop changes the camera's entities together."""
        sub = self.broker.subscriber(f"solarcam/{mac}/#")
        try:
            before = {leaf: len(sub.on(f"solarcam/{mac}/{leaf}")) for leaf in leaves}
            with self.ha.paused():
                self.status(mac, **fields)
                for leaf in leaves:
                    sub.wait_for(f"the bridge's {leaf}", f"solarcam/{mac}/{leaf}",
                                 before[leaf] + 1)
        finally:
            sub.close()

    def alarm(self, mac: str = DRIVEWAY, kind: str = "PIR"):
        self.broker.pub("4GSolarCam/Alarm", json.dumps({"devMac": mac, "type": kind}))

    def snapshot(self, payload: bytes):
        self.broker.pub("4GSolarCam/Snapshot", payload)

    def close(self):
        """Stops everything, each step whatever happened to the others."""
        steps = [r.close for r in self.recorders]
        # The embedded broker goes with the bridge: Home Assistant stops first, or it logs the
        # lost connection.
        if isinstance(self.broker, EmbeddedBroker):
            steps.append(self.ha.stop)
        if self.bridge:
            steps.append(self.bridge.stop)
        steps += [self.ha.stop, self.broker.stop]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as e:  # reported after the rest is stopped
                errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session", autouse=True)
def ha_version():
    """The Home Assistant these tests run against, and a check that it is the one asked for."""
    from homeassistant.const import __version__

    wanted = os.environ.get("SOLARCAM_HA_VERSION")
    assert wanted in (None, __version__), f"Home Assistant {__version__}, not {wanted}"
    return __version__


@pytest.fixture(scope="session")
def ha_template(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("template")
    broker = Mosquitto(work)
    try:
        return template_dir(work, broker.port)
    finally:
        broker.stop()


def finish(s: Stack, allowed: list[str] = ()):
    """After a test, whatever it did: Home Assistant holds no MQTT repair (a repair is what a user
    sees first), and its log no warning or error about the bridge's entities, MQTT or
    automations."""
    repairs = []
    try:
        if s.ha.proc and s.ha.proc.poll() is None:
            repairs = s.ha.mqtt_repairs()
    finally:
        s.close()
    assert not repairs, f"Home Assistant holds MQTT repairs: {repairs}"
    lines = [l for l in bridge_lines(s.ha.log_text()) if not any(a in l for a in allowed)]
    assert not lines, "Home Assistant logged:\n" + "\n".join(lines)


@pytest.fixture
def stack(ha_template, tmp_path, request):
    """Mosquitto, Home Assistant and the bridge, checked afterwards (`finish`); a test may name
    warnings of Home Assistant's own making it expects (`request.node.allowed_warnings`)."""
    s = Stack(tmp_path, ha_template)
    request.node.stack = s
    yield s
    finish(s, getattr(request.node, "allowed_warnings", []))


@pytest.fixture
def embedded_stack(ha_template, tmp_path, request):
    """The bridge with its own broker, and Home Assistant on it, checked afterwards (`finish`)."""
    s = Stack(tmp_path, ha_template, embedded=True)
    request.node.stack = s
    yield s
    finish(s)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    s = getattr(item, "stack", None)
    if report.when == "call" and report.failed and s is not None:
        if s.bridge:
            report.sections.append(("bridge log", s.bridge.log_text()[-6000:]))
        report.sections.append(("Home Assistant log", s.ha.log_text()[-8000:]))


BLUEPRINTS = Path(__file__).resolve().parents[2] / "packaging" / "home-assistant" / "blueprints"


def register_phone(ha: HomeAssistant, name: str = "Test Phone") -> tuple[str, str]:
    """Registers a phone as the Home Assistant app does, with local push (notifications come over
    the app's WebSocket). Its device id and webhook id."""
    reg = ha.post("/api/mobile_app/registrations", {
        "device_id": name.lower().replace(" ", "-"), "app_id": "io.homeassistant.companion.android",
        "app_name": "Home Assistant", "app_version": "2024.3.0", "device_name": name,
        "manufacturer": "Google", "model": "Pixel", "os_name": "Android", "os_version": "14",
        "supports_encryption": False, "app_data": {"push_websocket_channel": True}})
    _, devices = ha.registry()
    device = next(d for d in devices if d["name"] == name)
    return device["id"], reg["webhook_id"]


def install_blueprint(ha: HomeAssistant, name: str) -> str:
    """Settings > Blueprints > Import, with the file's own text (there is no network here to fetch
    its source_url from): Home Assistant validates and stores it. Its path."""
    text = (BLUEPRINTS / "automation" / name).read_text()
    path = f"solarcam/{name}"
    ha.ws_call({"type": "blueprint/save", "domain": "automation", "path": path, "yaml": text,
                "source_url": f"https://example.invalid/{name}"})
    return path


def save_automation(ha: HomeAssistant, automation_id: str, config: dict) -> str:
    """The automation editor's save: Home Assistant writes automations.yaml and reloads. Its
    entity, once on."""
    ha.post(f"/api/config/automation/config/{automation_id}", config)
    entity = wait_until(f"automation {automation_id} loaded", lambda: next(
        (s["entity_id"] for s in ha.get("/api/states")
         if s["entity_id"].startswith("automation.")
         and s["attributes"].get("id") == automation_id and s["state"] == "on"), None))
    return entity


def device_id(ha: HomeAssistant, identifier: str) -> str:
    _, devices = ha.registry()
    return next(d["id"] for d in devices if ["mqtt", identifier] in d["identifiers"])


def bridge_lines(log: str) -> list[str]:
    """Home Assistant's warnings and errors that concern the bridge: MQTT, its entities, its
    device, templates."""
    lines = [l for l in log.splitlines() if re.match(r"^\d{4}-\d\d-\d\d \S+ (WARNING|ERROR)", l)]
    return [l for l in lines if re.search(
        r"mqtt|solarcam|driveway|barn|template|blueprint|automation|event\.|image\.|camera\.",
        l, re.I)]


__all__ = ["ROOT", "DRIVEWAY", "BARN", "DRIVEWAY_IN_GARDEN_AND_BARN", "jpeg", "register_phone", "install_blueprint", "save_automation",
           "device_id", "bridge_config", "Stack", "wait_until",
           "bridge_lines"]


def runs_that_acted(ha: HomeAssistant, automation_id: str) -> int:
    """How many of an automation's runs got past their conditions, from its traces (kept across
    Home Assistant's restarts): what a notification lost before a phone reconnects cannot hide."""
    traces = ha.ws_call({"type": "trace/list", "domain": "automation", "item_id": automation_id})
    return sum(1 for t in traces if t.get("script_execution") != "failed_conditions")

"""A real Home Assistant, a real Mosquitto and the real bridge, each started by the test that uses
them on free loopback ports, with their own files, and stopped afterwards.

Home Assistant is driven as a user's browser drives it: onboarding, the MQTT integration's config
flow, the automation editor's REST endpoint, WebSocket commands. Cameras are played with
Mosquitto's own clients (`mosquitto_pub`, `mosquitto_sub`), which behave the same under every
Home Assistant version.

Nothing here waits for a fixed time where something can be observed instead: each wait names what
it waits for, and fails with that name and what it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import aiohttp
import requests

ROOT = Path(__file__).resolve().parents[2]
BRIDGE_BIN = Path(os.environ.get("SOLARCAM_BIN", ROOT / "target" / "debug" / "solarcam-bridge"))
# The release a user upgrades from (packaging/previous-release), built by scripts/ha-test: it
# announces each entity on a config topic of its own.
PREVIOUS_BIN = Path(os.environ.get("SOLARCAM_PREVIOUS_BIN", "/nonexistent"))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

# How long anything may take before a wait fails. Home Assistant's first start on a new machine
# installs its integrations' requirements; later ones take seconds.
TIMEOUT = float(os.environ.get("SOLARCAM_HA_TIMEOUT", "60"))
# The first start of a new virtualenv (the template's, below) installs what its integrations need
# while Home Assistant is already answering HTTP but still starting: the frontend's 50 MB wheel
# and, from source, pymicro-vad and pyspeex-noise (compiled with g++; 2025.10.4 and 2026.11.0
# spent 54 s and 45 s compiling them here, three versions building side by side). Its waits get
# this long.
FIRST_START = float(os.environ.get("SOLARCAM_HA_FIRST_START_TIMEOUT", "600"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, check: Callable[[], Any], timeout: float = TIMEOUT, every: float = 0.05):
    """Polls `check` until it returns something truthy, and returns that; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # a check may fail while the thing it looks at starts
            last_error = e
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                         + (f" (last error: {last_error!r})" if last_error else ""))


class Mosquitto:
    """Debian's Mosquitto on a free loopback port, in its stock settings but for the listener."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.dir = workdir / "mosquitto"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self):
        self.log = open(self.dir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until(f"Mosquitto listening on {self.port}", self._listening, timeout=10)

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def pub(self, topic: str, payload: bytes | str, retain: bool = False, qos: int = 1):
        """Publishes one message and returns once the broker has it (QoS 1 by default)."""
        data = payload.encode() if isinstance(payload, str) else payload
        args = ["mosquitto_pub", "-p", str(self.port), "-h", "127.0.0.1", "-t", topic,
                "-q", str(qos), "-s"]
        if retain:
            args.append("-r")
        subprocess.run(args, input=data, check=True, timeout=10)

    def subscriber(self, topic: str) -> "Subscriber":
        return Subscriber(self.port, topic)

    def retained(self, topic: str) -> bytes | None:
        """The retained message on `topic`, or None: read up to a marker published after it."""
        out = subprocess.run(
            ["mosquitto_sub", "-p", str(self.port), "-h", "127.0.0.1", "-t", topic,
             "-C", "1", "-W", "2", "--retained-only"],
            capture_output=True, timeout=10)
        return out.stdout.rstrip(b"\n") if out.returncode == 0 and out.stdout else None


class EmbeddedBroker(Mosquitto):
    """The bridge's own broker (`mqtt: embedded: true`): a free port for it, and Mosquitto's
    clients to talk to it. The bridge runs it, so there is nothing to start or stop here."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.proc = None

    def start(self):
        pass

    def stop(self):
        pass


class Subscriber:
    """`mosquitto_sub -v` in the background: every message on a filter, in order, with its topic."""

    def __init__(self, port: int, topic: str):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-t", topic, "-v", "-q", "1",
             "-F", "%t %x"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        # mosquitto_sub prints nothing when subscribed: a marker of our own, on a topic the
        # filter matches and nothing else uses, tells us it is. (An exact filter gets none: the
        # tests use those for retained topics, whose first message shows the subscription.)
        if "+" in topic or "#" in topic:
            marker = "/".join("__subscribed__" if level in ("+", "#") else level
                              for level in topic.split("/"))
            wait_until(f"subscription to {topic}", lambda: self._marker(port, marker), timeout=10,
                       every=0.2)

    def _marker(self, port: int, marker: str) -> bool:
        subprocess.run(["mosquitto_pub", "-p", str(port), "-t", marker, "-n"], check=True)
        with self._lock:
            return any(t == marker for t, _ in self.messages)

    def _read(self):
        assert self.proc.stdout
        for line in self.proc.stdout:
            topic, _, hexed = line.decode().rstrip("\n").partition(" ")
            with self._lock:
                self.messages.append((topic, bytes.fromhex(hexed)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def wait_for(self, what: str, topic: str, count: int = 1) -> list[bytes]:
        return wait_until(what, lambda: len(self.on(topic)) >= count and self.on(topic))

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)


class Bridge:
    """The solarcam-bridge binary on a configuration file of its own."""

    def __init__(self, workdir: Path, config: str, binary: Path | None = None):
        self.binary = binary or BRIDGE_BIN
        self.dir = workdir / "bridge"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.dir / "config.yaml"
        self.write_config(config)
        self.log_file = self.dir / "bridge.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def write_config(self, text: str):
        # The state directory is the test's own.
        text = f"state_dir: {self.dir / 'state'}\n" + text
        tmp = self.config_file.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_file)

    def start(self):
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "solarcam_bridge=debug"))
        self.log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([str(self.binary), "run", "--config", str(self.config_file)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def kill(self):
        """An unclean end (a crash, a power cut): the broker publishes its last will."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def wait_log(self, what: str, text: str):
        wait_until(what, lambda: text in self.log_text())


class HomeAssistant:
    """Home Assistant from this virtualenv, on a configuration directory of its own."""

    CLIENT_ID = "http://127.0.0.1/"

    def __init__(self, workdir: Path, mqtt_port: int, template: Path | None = None):
        self.dir = workdir / "homeassistant"
        self.media = workdir / "media"
        self.media.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.mqtt_port = mqtt_port
        self.proc: subprocess.Popen | None = None
        self.token: str | None = None
        if template is not None:
            shutil.copytree(template, self.dir)
            self.token = (self.dir / "token").read_text()
            self._point_mqtt_at(mqtt_port)
            # 2026.x keeps the HTTP settings it read from configuration.yaml in .storage/http
            # and listens where that says: the template's port, not this copy's. Without it,
            # they are read from the file again.
            (self.dir / ".storage" / "http").unlink(missing_ok=True)
        else:
            self.dir.mkdir(parents=True)
        self._write_configuration()

    # -- files ------------------------------------------------------------------------------

    def _write_configuration(self):
        (self.dir / "configuration.yaml").write_text(f"""\
homeassistant:
  name: solarcam test
  latitude: 52.5
  longitude: 13.4
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
  # Home Assistant OS's media folder, where the add-on's archive goes (/media/solarcam).
  media_dirs:
    media: {self.media}
http:
  server_host: 127.0.0.1
  server_port: {self.port}
api:
config:
onboarding:
repairs:
automation: !include automations.yaml
media_source:
blueprint:
device_automation:
mobile_app:
recorder:
  commit_interval: 0
history:
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
""")
        automations = self.dir / "automations.yaml"
        if not automations.exists():
            automations.write_text("[]\n")

    def _point_mqtt_at(self, port: int):
        path = self.dir / ".storage" / "core.config_entries"
        entries = json.loads(path.read_text())
        for e in entries["data"]["entries"]:
            if e["domain"] == "mqtt":
                e["data"]["port"] = port
        path.write_text(json.dumps(entries))

    def set_mqtt_entry(self, **data):
        """Changes the MQTT entry as stored (Home Assistant stopped); a value of None removes
        the key, as an entry made before it existed lacks it."""
        path = self.dir / ".storage" / "core.config_entries"
        entries = json.loads(path.read_text())
        for e in entries["data"]["entries"]:
            if e["domain"] == "mqtt":
                for k, v in data.items():
                    if v is None:
                        e["data"].pop(k, None)
                    else:
                        e["data"][k] = v
        path.write_text(json.dumps(entries))

    def mqtt_entry(self) -> dict:
        """The MQTT entry's data as stored (read with Home Assistant stopped: it saves on stop)."""
        entries = json.loads((self.dir / ".storage" / "core.config_entries").read_text())
        return next(e["data"] for e in entries["data"]["entries"] if e["domain"] == "mqtt")

    def mqtt_repairs(self) -> list[dict]:
        """The repairs Home Assistant holds for MQTT (Settings > Repairs): what a user sees first."""
        issues = self.ws_call({"type": "repairs/list_issues"})["issues"]
        return [i for i in issues if "mqtt" in (i.get("domain"), i.get("issue_domain"))]

    def log_text(self) -> str:
        path = self.dir / "home-assistant.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- process ----------------------------------------------------------------------------

    def launch(self):
        """Starts the process; returns at once."""
        self.out = open(self.dir / "stdout.log", "ab")
        self.proc = subprocess.Popen(
            [os.environ.get("HA_PYTHON", "python"), "-m", "homeassistant", "-c", str(self.dir)],
            stdout=self.out, stderr=subprocess.STDOUT)

    def start(self, timeout: float = TIMEOUT):
        self.launch()
        wait_until("Home Assistant's HTTP server", self._http_up, timeout)
        if self.token:
            self.wait_running()

    def _http_up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"Home Assistant exited ({self.proc.returncode}):\n"
                                 + self.log_text()[-3000:])
        r = requests.get(f"{self.base}/api/onboarding", timeout=2)
        return r.status_code in (200, 404)

    def wait_running(self, timeout: float = TIMEOUT):
        wait_until("Home Assistant running",
                   lambda: self.get("/api/config").get("state") == "RUNNING", timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    @contextlib.contextmanager
    def paused(self):
        """Home Assistant frozen (SIGSTOP) for the block, as a busy Raspberry Pi stalls it: what
        the broker sends meanwhile waits in its socket and is read in one go when it resumes,
        every state written in one turn of its loop before any listener runs."""
        self.proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.proc.send_signal(signal.SIGCONT)

    # -- first start: onboarding and the MQTT integration ------------------------------------

    def onboard(self, timeout: float = TIMEOUT):
        """The first start, as a user's browser goes through it: the owner account, a token."""
        r = requests.post(f"{self.base}/api/onboarding/users", json={
            "client_id": self.CLIENT_ID, "name": "Test", "username": "test",
            "password": "test-password-1", "language": "en"}, timeout=30)
        r.raise_for_status()
        code = r.json()["auth_code"]
        r = requests.post(f"{self.base}/auth/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": self.CLIENT_ID},
            timeout=30)
        r.raise_for_status()
        self.token = r.json()["access_token"]
        self.wait_running(timeout)
        # A long-lived token survives restarts and copies of this directory.
        self.token = self.ws_call({"type": "auth/long_lived_access_token",
                                   "client_name": "solarcam tests", "lifespan": 3650})
        (self.dir / "token").write_text(self.token)

    def add_mqtt(self, timeout: float = 30):
        """Settings > Devices & services > Add integration > MQTT, with discovery on (default).
        The first flow of a new virtualenv installs paho-mqtt before it answers (`timeout`)."""
        flow = self.post("/api/config/config_entries/flow", {"handler": "mqtt"}, timeout)
        assert flow.get("step_id") == "broker", flow
        form = {"broker": "127.0.0.1", "port": self.mqtt_port}
        # The form's folded sections (2026.x: "other_settings", where the certificate choices are
        # required) go back as the browser sends them: each field at its default, and for a
        # plain loopback broker no client certificate and no broker certificate check.
        answers = {"set_client_cert": False, "set_ca_cert": "off"}
        for field in flow.get("data_schema", []):
            if field.get("type") == "expandable":
                form[field["name"]] = {f["name"]: answers.get(f["name"], f.get("default"))
                                       for f in field["schema"]
                                       if f["name"] in answers or "default" in f}
        result = self.post(f"/api/config/config_entries/flow/{flow['flow_id']}", form)
        assert result.get("type") == "create_entry", result
        return result

    # -- REST -------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> Any:
        r = requests.get(self.base + path, headers=self._headers(), timeout=30)
        r.raise_for_status()
        return r.json()

    def get_bytes(self, path: str) -> requests.Response:
        return requests.get(self.base + path, headers=self._headers(), timeout=30)

    def post(self, path: str, body: Any = None, timeout: float = 30) -> Any:
        r = requests.post(self.base + path, headers=self._headers(), json=body or {},
                          timeout=timeout)
        if r.status_code >= 400:
            raise AssertionError(f"POST {path}: {r.status_code} {r.text}")
        return r.json() if r.text else None

    def delete(self, path: str) -> Any:
        r = requests.delete(self.base + path, headers=self._headers(), timeout=30)
        if r.status_code >= 400:
            raise AssertionError(f"DELETE {path}: {r.status_code} {r.text}")
        return r.json() if r.text else None

    def state(self, entity_id: str) -> dict | None:
        r = requests.get(f"{self.base}/api/states/{entity_id}", headers=self._headers(),
                         timeout=30)
        return r.json() if r.status_code == 200 else None

    def wait_state(self, entity_id: str, check: Callable[[dict], bool], what: str) -> dict:
        seen = []

        def look():
            s = self.state(entity_id)
            seen[:] = [s["state"] if s else None]
            return s if s and check(s) else None

        try:
            return wait_until(f"{entity_id}: {what}", look)
        except AssertionError as e:
            raise AssertionError(f"{e}; its state: {seen}") from None

    @contextlib.contextmanager
    def subscribing_to(self, topic: str):
        """For a block that makes Home Assistant subscribe to `topic` (saving an automation with
        an MQTT trigger): returns once its MQTT client has sent the SUBSCRIBE, which it logs at
        debug level, turned on for the block (the broker then has it before any later client's
        message). Without this, a message sent at once may beat the subscription."""
        logger = "homeassistant.components.mqtt.client"
        line = f"('{topic}', "
        seen = self.log_text().count(line)
        self.post("/api/services/logger/set_level", {logger: "debug"})
        try:
            yield
            wait_until(f"Home Assistant subscribed to {topic}",
                       lambda: self.log_text().count(line) > seen)
        finally:
            self.post("/api/services/logger/set_level", {logger: "info"})

    def press(self, entity_id: str):
        self.post("/api/services/button/press", {"entity_id": entity_id})

    # -- WebSocket --------------------------------------------------------------------------

    def ws_call(self, message: dict) -> Any:
        """One WebSocket command on a connection of its own; its result."""
        async def run():
            async with WebSocket(self) as ws:
                return await ws.call(message)
        return asyncio.run(run())

    def registry(self) -> tuple[list[dict], list[dict]]:
        """The entity and device registries, as the frontend reads them."""
        async def run():
            async with WebSocket(self) as ws:
                return (await ws.call({"type": "config/entity_registry/list"}),
                        await ws.call({"type": "config/device_registry/list"}))
        return asyncio.run(run())


class WebSocket:
    """Home Assistant's WebSocket API, authenticated with the test's token."""

    def __init__(self, ha: HomeAssistant):
        self.ha = ha
        self.id = 0

    async def __aenter__(self) -> "WebSocket":
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(f"ws://127.0.0.1:{self.ha.port}/api/websocket")
        assert (await self.ws.receive_json())["type"] == "auth_required"
        await self.ws.send_json({"type": "auth", "access_token": self.ha.token})
        reply = await self.ws.receive_json()
        assert reply["type"] == "auth_ok", reply
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()
        await self.session.close()

    async def send(self, message: dict) -> int:
        self.id += 1
        await self.ws.send_json({"id": self.id, **message})
        return self.id

    async def _reply(self, message: dict) -> tuple[int, Any]:
        """Sends `message`; its id and result, once Home Assistant has answered it."""
        msg_id = await self.send(message)
        while True:
            reply = await asyncio.wait_for(self.ws.receive_json(), TIMEOUT)
            if reply.get("id") == msg_id and reply["type"] == "result":
                if not reply["success"]:
                    raise AssertionError(f"{message['type']}: {reply['error']}")
                return msg_id, reply["result"]

    async def call(self, message: dict) -> Any:
        return (await self._reply(message))[1]

    async def call_id(self, message: dict) -> int:
        """Sends a subscription; its id, once Home Assistant has accepted it."""
        return (await self._reply(message))[0]


class EventRecorder:
    """Records Home Assistant events of some types, and a phone's push notifications, in a
    thread of its own, from the moment it is started."""

    def __init__(self, ha: HomeAssistant, event_types: list[str], push_webhook: str | None = None):
        self.ha = ha
        self.event_types = event_types
        self.push_webhook = push_webhook
        self.events: list[dict] = []
        self.notifications: list[dict] = []
        # When each notification reached the phone (time.monotonic()), for measurements.
        self.arrivals: list[float] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()
        if not self._ready.wait(TIMEOUT):
            raise AssertionError("event subscription not ready")

    async def _run(self):
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with WebSocket(self.ha) as ws:
            subs = {}
            for t in self.event_types:
                subs[await ws.call_id({"type": "subscribe_events", "event_type": t})] = t
            if self.push_webhook:
                push = await ws.call_id({"type": "mobile_app/push_notification_channel",
                                         "webhook_id": self.push_webhook})
            else:
                push = None
            self._ready.set()
            while not self._stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.ws.receive_json(), 0.2)
                except asyncio.TimeoutError:
                    continue
                except TypeError:  # the connection closed (Home Assistant stopping)
                    break
                if msg.get("type") != "event":
                    continue
                if msg["id"] == push:
                    self.arrivals.append(time.monotonic())
                    self.notifications.append(msg["event"])
                elif msg["id"] in subs:
                    self.events.append(msg["event"])

    def close(self):
        # Its connection may have ended already (Home Assistant stopped or restarted).
        if self.thread.is_alive() and self._loop and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(5)




def template_dir(cache: Path, mqtt_port: int) -> Path:
    """A configuration directory after onboarding and with the MQTT integration added, made once
    per test session through the real flows, then copied for each test."""
    done = cache / "template" / "homeassistant"
    if (done / "token").exists():
        return done
    ha = HomeAssistant(cache / "template", mqtt_port)
    # A new virtualenv's first start installs its integrations' requirements (FIRST_START).
    ha.start(timeout=FIRST_START)
    try:
        ha.onboard(timeout=FIRST_START)
        ha.add_mqtt(timeout=FIRST_START)
        wait_until("the MQTT integration loaded", lambda: any(
            e["domain"] == "mqtt" and e["state"] == "loaded"
            for e in ha.get("/api/config/config_entries/entry")), FIRST_START)
    finally:
        ha.stop()
    return done


def new_workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"solarcam-ha-{name}-"))

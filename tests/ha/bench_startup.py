"""A benchmark, not a test (pytest collects it only when named): how long from the bridge's start
until every entity of 100, 500 and 1,000 listed cameras is live in a real Home Assistant, read
through its REST API as a dashboard would. Twice per size: the cameras new to Home Assistant
(discovery creates every entity), then after a restart of the bridge (the entities are registered
and come back from "unavailable"). Each size in both forms, in the same run: one discovery message
per device (this tree, its state already past the move from per-entity configs) and one per entity
(the previous release, packaging/previous-release). Mosquitto in its stock settings but for the
listener. A run of this tree's past 60 s fails.

    scripts/ha-test 2026.11.0 tests/ha/bench_startup.py -k bench -s

BENCHMARKS.md has the figures."""

import subprocess
import threading
import time

import pytest

from conftest import bridge_config
from harness import PREVIOUS_BIN, Bridge, wait_until
from homeassistant.const import __version__
from test_entities import CAMERA


def cameras(count: int) -> str:
    return "".join(f"  - mac: 02:00:00:00:{i // 256:02X}:{i % 256:02X}\n    name: Cam {i:03}\n"
                   for i in range(count))


def live_ids(count: int) -> set[str]:
    """The entities that have a state without a status from the camera (enabled by default,
    created at announcement)."""
    per_camera = [entity_id for key, (entity_id, *_, enabled) in CAMERA.items()
                  if enabled and key not in ("battery_voltage", "signal")]
    return {entity_id.replace("driveway", f"cam_{i:03}")
            for i in range(count) for entity_id in per_camera}


LIMIT = 60.0


def published(port: int, form: str, count: int) -> list[float]:
    """Starts watching the broker for the bridge's discovery: the returned list gets the time the
    last camera's config arrived (in the per-entity form, its snapshot entity's, the first of its
    20). That is the bridge's share of the start-up; the rest is Home Assistant's."""
    topic = ("homeassistant/device/+/config" if form == "device"
             else "homeassistant/camera/+/snapshot/config")
    done: list[float] = []
    proc = subprocess.Popen(["mosquitto_sub", "-p", str(port), "-h", "127.0.0.1", "-t", topic,
                             "-C", str(count + (form == "device")), "-W", "300"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait():
        proc.wait()
        done.append(time.monotonic())
    threading.Thread(target=wait, daemon=True).start()
    time.sleep(0.5)  # subscribed
    return done


@pytest.mark.parametrize("form", ["device", "per-entity"])
@pytest.mark.parametrize("count", [100, 500, 1000])
def test_bench_startup_until_every_entity_is_live(stack, count, form, request):
    """Timed from the bridge's launch until a read of /api/states finds every entity live. The
    read is taken every 0.25 s for 100 cameras and every second for 500 (the figure is that
    close): each serialises every state, and a tighter loop, or a state_changed subscription
    (which Home Assistant drops past 4,096 pending messages, as 500 cameras' entities arrive),
    would load the two cores it measures."""
    wanted = live_ids(count)
    every = 0.25 if count <= 100 else 1.0
    # At 1,000 cameras Home Assistant's own loop, busy creating 11,000 entities, reads its
    # broker's acknowledgements late and says so (seen on 2026.11.0, 1 line, the broker idle);
    # what the bench measures, every entity live, is checked by its states.
    request.node.allowed_warnings = ["No ACK from MQTT server in 10 seconds"] if count >= 1000 else []
    stack.ha.start()

    def all_live() -> bool:
        live = {s["entity_id"] for s in stack.ha.get("/api/states") if s["state"] != "unavailable"}
        return wanted <= live

    timings = []
    for run in ("new to Home Assistant", "bridge restarted"):
        if stack.bridge:
            stack.bridge.stop()
            wait_until("every entity unavailable", lambda: not any(
                s["entity_id"] in wanted and s["state"] != "unavailable"
                for s in stack.ha.get("/api/states")), timeout=300, every=1)
            started = time.monotonic()
            stack.bridge.start()
        else:
            binary = PREVIOUS_BIN if form == "per-entity" else None
            state = stack.work / "bridge" / "state"
            state.mkdir(parents=True, exist_ok=True)
            if form == "device":
                # Past the first start of this release: nothing of an earlier one to move.
                (state / "state.json").write_text('{"device_discovery": true}')
            bridge_done = published(stack.broker.port, form, count)
            started = time.monotonic()
            stack.bridge = Bridge(stack.work, bridge_config(stack.broker.port,
                                                            cameras=cameras(count)), binary=binary)
        wait_until(f"{len(wanted)} entities live", all_live, timeout=600, every=every)
        timings.append((run, time.monotonic() - started))
        if run == "new to Home Assistant":
            wait_until("the bridge's discovery counted", lambda: bridge_done, timeout=30)
            timings.append(("(bridge published all", bridge_done[0] - started))
    per = "device" if form == "device" else "entity (the previous release)"
    print(f"\nHome Assistant {__version__}, {count} cameras, one message per {per} "
          f"({len(wanted)} entities, read every {every} s): "
          + "; ".join(f"{run} {seconds:.1f} s" + (")" if run.startswith("(") else "")
                      for run, seconds in timings))
    # The bound is this tree's; the previous release's figures are there to compare with.
    for run, seconds in timings:
        assert form != "device" or seconds < LIMIT, \
            f"{count} cameras, {run}: {seconds:.1f} s, past {LIMIT:.0f} s"

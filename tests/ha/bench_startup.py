"""A benchmark, not a test (pytest collects it only when named): how long from the bridge's start
until every entity of 100 and of 500 listed cameras is live in a real Home Assistant, read through
its REST API as a dashboard would. Twice per size: the cameras new to Home Assistant (discovery
creates every entity), then after a restart of the bridge (the entities are registered and come
back from "unavailable"). Mosquitto in its stock settings but for the listener.

    scripts/ha-test 2026.11.0 tests/ha/bench_startup.py -k bench -s

BENCHMARKS.md has the figures."""

import time

import pytest

from conftest import bridge_config
from harness import Bridge, wait_until
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


@pytest.mark.parametrize("count", [100, 500])
def test_bench_startup_until_every_entity_is_live(stack, count):
    """Timed from the bridge's launch until a read of /api/states finds every entity live. The
    read is taken every 0.25 s for 100 cameras and every second for 500 (the figure is that
    close): each serialises every state, and a tighter loop, or a state_changed subscription
    (which Home Assistant drops past 4,096 pending messages, as 500 cameras' entities arrive),
    would load the two cores it measures."""
    wanted = live_ids(count)
    every = 0.25 if count <= 100 else 1.0
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
            started = time.monotonic()
            stack.bridge = Bridge(stack.work, bridge_config(stack.broker.port,
                                                            cameras=cameras(count)))
        wait_until(f"{len(wanted)} entities live", all_live, timeout=600, every=every)
        timings.append((run, time.monotonic() - started))
    print(f"\nHome Assistant {__version__}, {count} cameras ({len(wanted)} entities, read every "
          f"{every} s): " + "; ".join(f"{run} {seconds:.1f} s" for run, seconds in timings))

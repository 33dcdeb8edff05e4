//! Scenarios for the core, with a fake clock: each is a conversation with the bridge. This file
//! holds the harness they share; the scenarios are in `tests/`, by concern.

use super::*;
use crate::discovery::{CameraEntity, CameraInfo, Diagnostic};
pub(super) use crate::protocol::CameraCommand;
use crate::test_support::jpeg;
use std::time::Duration;
pub(super) use std::time::SystemTime;

const DRIVEWAY: &str = "5CC5638AE24C";
const BARN: &str = "5CC5638AE24D";

/// Discovery messages a camera's announcement publishes: one device config.
const CONFIGS_PER_CAMERA: usize = 1;
/// Components in a camera's device config before any status: 14 entities (battery voltage and
/// signal wait for a value) and 6 alarm triggers.
const COMPONENTS_PER_CAMERA: usize = 14 + 6;
/// The bridge device's config.
const BRIDGE_CONFIGS: usize = 1;

fn config(text: &str) -> Config {
    Config::parse(text, "test.yaml", None).unwrap()
}

fn two_cameras() -> Config {
    config(&format!(
        "alarm_off_after: 30s\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n    area: Garden\n  - mac: {BARN}\n    name: Barn\n"
    ))
}

struct Harness {
    bridge: Bridge,
    now: Instant,
    wall: SystemTime,
}

impl Harness {
    fn topics(&self) -> Topics {
        self.bridge.topics.clone()
    }

    fn new(config: Config) -> Harness {
        Harness {
            bridge: Bridge::new(config),
            now: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    /// Both links up, the start-up actions drained, and Home Assistant given the time to
    /// subscribe (events are no longer held).
    fn connected(config: Config) -> Harness {
        let mut h = Harness::just_connected(config);
        // The monotonic clock only: the scenarios' wall-clock times stay as they read.
        h.now += EVENT_SETTLE;
        h.bridge.handle_timeout(h.now);
        h.drain();
        h
    }

    /// Both links up this instant: events are still held (see [`EVENT_SETTLE`]).
    fn just_connected(config: Config) -> Harness {
        let mut h = Harness::new(config);
        h.event(Event::Connected(Link::Ha));
        h.event(Event::Connected(Link::Camera));
        h
    }

    fn event(&mut self, e: Event) -> Vec<Action> {
        self.bridge.handle(e, self.now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.bridge.poll_action()).collect()
    }

    fn message(&mut self, topic: &str, payload: impl Into<Bytes>) -> Vec<Publish> {
        let e = Event::Message {
            topic: topic.to_string(),
            payload: payload.into(),
            retain: false,
            received: self.wall,
            ack: None,
        };
        publishes(self.event(e))
    }

    /// The last error the bridge noted (its "Last error" sensor).
    fn last_error(&self) -> &str {
        self.bridge
            .stats()
            .last_error
            .as_deref()
            .expect("no error was noted")
    }

    fn advance(&mut self, d: Duration) -> Vec<Publish> {
        self.now += d;
        self.wall += d;
        self.bridge.handle_timeout(self.now);
        publishes(self.drain())
    }
}

/// The publishes among `actions`, without the bridge's diagnostic counters (which follow every
/// message; `diagnostics_*` tests look at them).
fn publishes(actions: Vec<Action>) -> Vec<Publish> {
    all_publishes(actions)
        .into_iter()
        .filter(|p| {
            p.topic != "solarcam/bridge/last_error/attributes"
                && !Diagnostic::all().any(|d| p.topic == format!("solarcam/bridge/{}", d.key()))
        })
        .collect()
}

/// The snapshots among `actions` sent to the archive.
fn archived(actions: &[Action]) -> Vec<&ArchiveRequest> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Archive(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn all_publishes(actions: Vec<Action>) -> Vec<Publish> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// Publishes other than the "awake" and "last seen" states every message from a camera brings.
fn without_presence(ps: Vec<Publish>) -> Vec<Publish> {
    ps.into_iter()
        .filter(|p| !p.topic.ends_with("/awake") && !p.topic.ends_with("/last_seen"))
        .collect()
}

/// The one publish on `topic`; fails when there is none or several.
fn on<'a>(ps: &'a [Publish], topic: &str) -> &'a Publish {
    let found: Vec<&Publish> = ps.iter().filter(|p| p.topic == topic).collect();
    assert_eq!(
        found.len(),
        1,
        "publishes on {topic}: {:#?}",
        ps.iter().map(|p| &p.topic).collect::<Vec<_>>()
    );
    found[0]
}

/// The states the core asked to be saved.
fn saves(actions: &[Action]) -> Vec<&Saved> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SaveState(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The device config published on `node`'s device topic (`solarcam_5cc5638ae24c`,
/// `solarcam_bridge`).
fn device_config(ps: &[Publish], node: &str) -> serde_json::Value {
    json(on(ps, &format!("homeassistant/device/{node}/config")))
}

/// One component (`battery`, `alarm_pir`...) of the device config published for `node`.
fn component(ps: &[Publish], node: &str, key: &str) -> serde_json::Value {
    device_config(ps, node)["components"][key].clone()
}

fn text(p: &Publish) -> &str {
    std::str::from_utf8(&p.payload).unwrap()
}

fn json(p: &Publish) -> serde_json::Value {
    serde_json::from_slice(&p.payload).unwrap()
}

mod acknowledgements;
mod automations;
mod commands;
mod connections;
mod firmware;
mod hostile;
mod messages;
mod reload;
mod timers;

//! The bridge's logic, without I/O: events in, MQTT actions out.
//!
//! [`Bridge`] is told what happened ([`Bridge::handle`]: a connection came up, a message arrived,
//! the configuration changed) and what time it is; it queues [`Action`]s (subscribe, publish, save
//! state) that the shell drains with [`Bridge::poll_action`] and carries out, and it says when it
//! next needs to be woken ([`Bridge::poll_timeout`]: an alarm to turn off, a camera falling asleep,
//! a wake to retry, diagnostics to publish). No sockets, no clock, no tokio: every scenario is a
//! unit test that runs in microseconds.
//!
//! - `camera.rs`: what the bridge knows about one camera.
//! - `messages.rs`: what the cameras publish (snapshot, alarm, status) and whose it is.
//! - `admission.rs`: unlisted cameras, admitted within bounds or refused; dismissed ones.
//! - `commands.rs`: button presses, and the queue that holds them while a camera sleeps.
//! - `announce.rs`: discovery, availability and states for Home Assistant; its birth messages;
//!   alarm events held while it subscribes.
//! - `diagnostics.rs`: the bridge's counters and when they are published.
//! - `reload.rs`: configuration changes, removed cameras, ghosts of earlier runs.

mod admission;
mod announce;
mod camera;
mod commands;
mod diagnostics;
mod messages;
mod reload;
mod timers;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::config::Config;
use crate::discovery::{StateTopic, Topics};
use crate::mac::Mac;
use crate::protocol::CameraCommand;

pub use admission::{MAX_DISMISSED, NEW_CAMERA_EVERY, REFUSALS_LOGGED_EVERY};
pub use announce::{EVENT_SETTLE, MAX_HELD_EVENTS, REANNOUNCE_EVERY};
pub use diagnostics::{Stats, DIAGNOSTICS_EVERY};
pub use messages::ATTRIBUTION_WINDOW;

use admission::Admission;
use announce::{Announcing, HeldEvents, Reannounce};
use camera::Camera;
use diagnostics::{Counter, Diagnostics};
use timers::{CameraTimer, TimerTable};

/// Which broker connection an action goes to. With one broker both are the same connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The broker Home Assistant uses.
    Ha,
    /// The broker the cameras publish to.
    Camera,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

impl Link {
    /// The QoS of what the bridge publishes on this link.
    ///
    /// Home Assistant's side gets QoS 0. Every message there is retained and the bridge publishes
    /// all of them again (and sweeps ghosts) on each reconnect, so the one thing QoS 1 would add,
    /// a resend of what was in the socket when a connection dropped, is already covered. What
    /// QoS 1 would cost is measured: each PUBACK is a small segment the broker sends; the
    /// bridge's kernel delays its ACK (up to 40 ms), and a broker with Nagle's algorithm on (stock
    /// Mosquitto) holds the next camera message for the bridge until that ACK comes, so the
    /// bridge's p99 was 44 ms on stock Mosquitto instead of 0.5 ms (BENCHMARKS.md). One QoS for
    /// all of Home Assistant's messages also keeps them in order (configs, availability, states):
    /// a broker queues QoS 1 behind its in-flight window but sends QoS 0 at once, so mixing them
    /// reorders.
    ///
    /// Commands for cameras keep QoS 1: they are few, not retained, and not resent by anything
    /// else.
    pub fn qos(self) -> Qos {
        match self {
            Link::Ha => Qos::AtMostOnce,
            Link::Camera => Qos::AtLeastOnce,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// A connection is up (first time or again): subscribe, and publish what that side needs.
    Connected(Link),
    /// A connection dropped (the shell is reconnecting), and why.
    Disconnected { link: Link, reason: String },
    /// A message on any subscribed topic, from either connection.
    Message {
        topic: String,
        payload: Bytes,
        /// Delivered from the broker's store (sent before we subscribed), not live.
        retain: bool,
        /// Wall-clock time of receipt, for the "last status" and "last seen" timestamps.
        received: SystemTime,
    },
    /// A new, valid configuration (the file changed).
    ConfigReloaded(Box<Config>),
    /// The file changed but is not valid (or is gone): the running configuration stays, and Home
    /// Assistant shows the problem until a valid file arrives.
    ConfigRejected { file: String, errors: Vec<String> },
    /// A snapshot could not be archived (disk full, read-only, the writer behind), and why.
    ArchiveFailed(Arc<dyn std::error::Error + Send + Sync>),
    /// The bridge is stopping: say so while the connection is still up.
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub link: Link,
    pub topic: String,
    pub payload: Bytes,
    pub qos: Qos,
    pub retain: bool,
}

impl Publish {
    /// A message on `link`, at that link's QoS.
    pub fn new(link: Link, topic: String, payload: Bytes, retain: bool) -> Self {
        Publish {
            link,
            topic,
            payload,
            qos: link.qos(),
            retain,
        }
    }

    /// A command for a camera: never to be dropped, whatever else is.
    pub fn is_command(&self) -> bool {
        self.link == Link::Camera
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Subscribe {
        link: Link,
        filters: Vec<String>,
    },
    Unsubscribe {
        link: Link,
        filters: Vec<String>,
    },
    Publish(Publish),
    /// What must survive a restart changed: keep it (atomically) in the state directory.
    SaveState(Saved),
    /// Keep this snapshot in the archive (only when `archive` is configured).
    Archive(ArchiveRequest),
    /// The broker settings changed: once the actions before this one are out (on the old
    /// connections), close them and connect again with the configuration's settings.
    Reconnect,
}

/// A snapshot for the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRequest {
    /// The camera's folder in the archive: its name, as an id (`Driveway` → `driveway`).
    pub camera: String,
    pub jpeg: Bytes,
    /// When it was taken: the time the camera gives (newer firmware), else when it arrived.
    pub taken: SystemTime,
    /// The first snapshot after an alarm.
    pub alarm: bool,
}

/// What the bridge remembers across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// Cameras that appeared by themselves: their entities are not ghosts at the next start.
    #[serde(default)]
    pub discovered: Vec<Mac>,
    /// Commands waiting for a sleeping camera to wake.
    #[serde(default)]
    pub pending: BTreeMap<Mac, Vec<CameraCommand>>,
    /// Unlisted cameras deleted in Home Assistant or removed from the file, oldest first: their
    /// messages no longer make them devices (see [`MAX_DISMISSED`]).
    #[serde(default)]
    pub dismissed: Vec<Mac>,
    /// What cameras' snapshots call them (`devName`): their model, an unlisted camera's name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dev_names: BTreeMap<Mac, String>,
    /// This release announced every device in one message (device discovery), after moving
    /// what earlier releases announced entity by entity. Absent from their state files.
    #[serde(default)]
    pub device_discovery: bool,
}

pub struct Bridge {
    config: Config,
    topics: Topics,
    cameras: BTreeMap<Mac, Camera>,
    /// Which of the two links is up (one connection with one broker).
    ha_connected: bool,
    camera_connected: bool,
    /// The errors of the last rejected file, as the problem sensor's attributes.
    config_problem: Option<Bytes>,
    actions: VecDeque<Action>,
    /// Set while discovery and states are being announced (see `publish_everything`).
    announcing: Option<Announcing>,
    /// Home Assistant's birth messages, debounced.
    reannounce: Reannounce,
    /// Alarm events waiting for Home Assistant to have subscribed (see [`EVENT_SETTLE`]).
    events: HeldEvents,
    /// Every device is announced in one message, the per-entity configs of earlier releases
    /// moved (see `announce::migrate_to_device`). A bridge with no earlier run to restore has
    /// nothing to move.
    discovery_migrated: bool,
    /// Which unlisted cameras may become devices.
    admission: Admission,
    /// The counters, and when they are next published.
    diagnostics: Diagnostics,
    /// Every camera's timers (alarm off, asleep, wake unanswered), in deadline order: a
    /// timeout visits only the cameras whose time has come.
    timers: TimerTable,
}

/// Home Assistant drops a text state longer than this (and logs an error): text states are cut
/// to it, the whole text going to the entity's attributes.
pub const MAX_STATE_CHARS: usize = 255;

/// A text kept as an attribute is cut to this: attributes are stored with every state change,
/// and Home Assistant's recorder refuses (and warns about) attributes over 16 KiB.
pub const MAX_ATTRIBUTE_CHARS: usize = 4096;

fn topics_of(config: &Config) -> Topics {
    Topics {
        discovery_prefix: config.discovery_prefix.clone(),
        base: config.base_topic.clone(),
    }
}

impl Bridge {
    pub fn new(config: Config) -> Bridge {
        let cameras = config
            .cameras
            .iter()
            .map(|c| (c.mac, Camera::from_config(c)))
            .collect();
        Bridge {
            topics: topics_of(&config),
            config,
            cameras,
            ha_connected: false,
            camera_connected: false,
            config_problem: None,
            actions: VecDeque::new(),
            announcing: None,
            reannounce: Reannounce::default(),
            events: HeldEvents::default(),
            discovery_migrated: true,
            admission: Admission::default(),
            diagnostics: Diagnostics::default(),
            timers: TimerTable::default(),
        }
    }

    /// What an earlier run saved (see [`Action::SaveState`]): discovered cameras (ignored when
    /// `discover_unknown` is off) and the commands still waiting for their camera, which are
    /// resumed once the camera side is connected. Call before the first event.
    pub fn restore(&mut self, saved: Saved) {
        self.discovery_migrated = saved.device_discovery;
        if self.config.discover_unknown {
            for mac in saved.discovered {
                self.cameras
                    .entry(mac)
                    .or_insert_with(|| Camera::discovered(mac));
            }
        }
        self.admission.dismissed = saved
            .dismissed
            .into_iter()
            .filter(|m| !self.cameras.get(m).is_some_and(|c| c.configured))
            .collect();
        for (mac, dev_name) in saved.dev_names {
            if let Some(cam) = self.cameras.get_mut(&mac) {
                cam.take_dev_name(mac, dev_name);
            }
        }
        for (mac, commands) in saved.pending {
            match self.cameras.get_mut(&mac) {
                Some(cam) => cam.commands = camera::CommandQueue::restored(commands),
                None => warn!(
                    "{} command(s) saved for camera {mac}, which is no longer configured; dropped",
                    commands.len()
                ),
            }
        }
    }

    /// Cameras that appeared by themselves, not listed in the file.
    pub fn discovered(&self) -> Vec<Mac> {
        self.cameras
            .iter()
            .filter(|(_, c)| !c.configured)
            .map(|(m, _)| *m)
            .collect()
    }

    fn saved(&self) -> Saved {
        Saved {
            discovered: self.discovered(),
            pending: self
                .cameras
                .iter()
                .filter(|(_, c)| !c.commands.is_empty())
                .map(|(m, c)| (*m, c.commands.pending().to_vec()))
                .collect(),
            dismissed: self.admission.dismissed.iter().copied().collect(),
            dev_names: self
                .cameras
                .iter()
                .filter_map(|(m, c)| Some((*m, c.dev_name.clone()?)))
                .collect(),
            device_discovery: self.discovery_migrated,
        }
    }

    fn save_state(&mut self) {
        self.actions.push_back(Action::SaveState(self.saved()));
    }

    /// Whether the file last read was rejected (and so the running configuration is older).
    pub fn has_config_problem(&self) -> bool {
        self.config_problem.is_some()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    pub fn stats(&self) -> &Stats {
        self.diagnostics.stats()
    }

    /// Configured and discovered cameras.
    pub fn camera_count(&self) -> usize {
        self.cameras.len()
    }

    /// Whether [`Bridge::poll_action`] has more to give (an announcement in progress).
    pub fn has_more(&self) -> bool {
        !self.actions.is_empty() || self.announcing.is_some()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        while self.actions.is_empty() && self.announcing.is_some() {
            self.announce_more();
        }
        self.actions.pop_front()
    }

    /// The next time [`Bridge::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timers.next(),
            self.diagnostics.due(),
            self.reannounce.due,
            self.events.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Does what has come due: alarms off, cameras asleep, wakes retried or given up,
    /// diagnostics published.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((mac, timer)) = self.timers.pop_due(now) {
            let Some(cam) = self.cameras.get(&mac) else {
                continue;
            };
            match timer {
                CameraTimer::AlarmOff => {
                    debug!("{} ({mac}): alarm off", cam.name);
                    self.publish_state(mac, StateTopic::Alarm, Bytes::from_static(b"OFF"));
                }
                CameraTimer::Asleep => self.fall_asleep(mac),
                CameraTimer::WakeUnanswered => self.wake_unanswered(mac, now),
            }
        }
        self.reannounce_if_due(now);
        self.release_events(now);
        if self.diagnostics.take_due(now) {
            self.publish_diagnostics();
        }
        self.diagnostics.schedule(now);
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connected(Link::Ha) => {
                self.ha_connected = true;
                self.subscribe_ha();
                self.publish_everything(now);
            }
            Event::Connected(Link::Camera) => {
                self.camera_connected = true;
                self.subscribe_cameras();
                self.publish_camera_broker();
                self.resume_pending(now);
            }
            Event::Disconnected { link, reason } => self.disconnected(link, reason),
            Event::Message {
                topic,
                payload,
                retain,
                received,
            } => {
                self.diagnostics.count(Counter::Received, 1);
                self.on_message(&topic, payload, retain, received, now);
            }
            Event::ConfigReloaded(config) => self.on_config(*config, now),
            Event::ArchiveFailed(why) => {
                warn!("{why}");
                self.diagnostics.count(Counter::ArchiveFailures, 1);
                self.note_error(why.to_string());
            }
            Event::ConfigRejected { file, errors } => {
                let attributes = serde_json::json!({ "file": file, "errors": errors });
                self.config_problem = Some(Bytes::from(attributes.to_string()));
                self.publish_config_problem();
            }
            Event::Shutdown => self.shutdown(),
        }
        self.handle_timeout(now);
    }

    fn disconnected(&mut self, link: Link, reason: String) {
        let was = match link {
            Link::Ha => std::mem::replace(&mut self.ha_connected, false),
            Link::Camera => std::mem::replace(&mut self.camera_connected, false),
        };
        // With one broker both links are one connection: count it once.
        let same_connection = link == Link::Camera && self.config.camera_mqtt.is_none();
        if was && !same_connection {
            self.diagnostics.count(Counter::Reconnects, 1);
        }
        if link == Link::Camera {
            self.publish_camera_broker();
        }
        self.note_error(reason);
    }

    /// Says "offline" while the connection is still up (a stop, or a move to another broker).
    fn shutdown(&mut self) {
        // An announcement in progress is abandoned: it starts again on the next connect.
        self.announcing = None;
        self.release_all_events();
        self.publish_diagnostics();
        self.publish(
            Link::Ha,
            self.topics.availability(),
            Bytes::from_static(b"offline"),
            true,
        );
    }

    // -----------------------------------------------------------------------------------------
    // Connections.

    fn ha_filters(topics: &Topics) -> Vec<String> {
        vec![
            topics.ha_status(),
            topics.command_filter(),
            topics.announced_devices_filter(),
            topics.legacy_announced_filter(),
        ]
    }

    fn subscribe_ha(&mut self) {
        let filters = Self::ha_filters(&self.topics);
        self.actions.push_back(Action::Subscribe {
            link: Link::Ha,
            filters,
        });
    }

    fn subscribe_cameras(&mut self) {
        let filters = self.config.camera_topics.filters();
        self.actions.push_back(Action::Subscribe {
            link: Link::Camera,
            filters,
        });
    }

    // -----------------------------------------------------------------------------------------
    // Output: what Home Assistant and the cameras are sent.

    fn publish_state(&mut self, mac: Mac, state: StateTopic, payload: Bytes) {
        self.publish(Link::Ha, self.topics.state(mac, state), payload, true);
    }

    fn publish_json<T: serde::Serialize>(&mut self, topic: String, value: &T) {
        match serde_json::to_vec(value) {
            Ok(json) => self.publish(Link::Ha, topic, Bytes::from(json), true),
            Err(e) => warn!("{topic}: cannot serialise: {e}"),
        }
    }

    fn publish(&mut self, link: Link, topic: String, payload: Bytes, retain: bool) {
        self.diagnostics.count(Counter::Published, 1);
        self.push_publish(link, topic, payload, retain);
    }

    fn push_publish(&mut self, link: Link, topic: String, payload: Bytes, retain: bool) {
        self.actions
            .push_back(Action::Publish(Publish::new(link, topic, payload, retain)));
    }
}

/// `text` whole if it has at most `max` characters, else its first `max - 1` and "…".
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) => {
            let end = text
                .char_indices()
                .nth(max - 1)
                .map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

/// The Awake sensor's state.
fn awake_state(awake: bool) -> Bytes {
    Bytes::from_static(crate::discovery::awake_word(awake).as_bytes())
}

/// A camera timer was set for `at`: the earliest one moves up if need be.
/// `87` rather than `87.0`; `3.95` as it came.
fn number_payload(v: f64) -> Bytes {
    Bytes::from(if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    })
}

#[cfg(test)]
mod tests;

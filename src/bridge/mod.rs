//! The bridge's logic, without I/O: events in, MQTT actions out.
//!
//! [`Bridge`] is told what happened ([`Bridge::handle`]: a connection came up, a message arrived,
//! the configuration changed) and what time it is; it queues [`Action`]s (subscribe, publish, save
//! state) that the shell drains with [`Bridge::poll_action`] and carries out, and it says when it
//! next needs to be woken ([`Bridge::poll_timeout`]: an alarm to turn off, a camera falling asleep,
//! a wake to retry, diagnostics to publish). No sockets, no clock, no tokio: every scenario is a
//! unit test that runs in microseconds.
//!
//! - `messages.rs`: what the cameras publish (snapshot, alarm, status) and whose it is.
//! - `commands.rs`: button presses, and the queue that holds them while a camera sleeps.
//! - `reload.rs`: configuration changes, removed cameras, ghosts of earlier runs.

mod commands;
mod messages;
mod reload;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::config::{default_camera_name, CameraConfig, Config};
use crate::discovery::{
    self, BridgeEntity, CameraEntity, CameraInfo, Diagnostic, StateTopic, Topics, ALARM_TRIGGERS,
};
use crate::mac::Mac;
use crate::protocol::{CameraCommand, CameraTopic};

pub use messages::ATTRIBUTION_WINDOW;

/// Diagnostics are published at most this often.
pub const DIAGNOSTICS_EVERY: Duration = Duration::from_secs(5);

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
    /// When it arrived.
    pub received: SystemTime,
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
}

/// Counters for the log and the bridge's diagnostic sensors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub published: u64,
    /// Payloads that could not be read or were refused (no JPEG, too large, not JSON…).
    pub rejected: u64,
    /// Payloads whose camera could not be told.
    pub unattributed: u64,
    /// Messages from unlisted cameras that were not made into devices.
    pub refused_cameras: u64,
    /// Connections lost (and then re-established by the shell).
    pub reconnects: u64,
    /// Snapshots the archive could not keep.
    pub archive_failures: u64,
    pub last_error: Option<String>,
}

/// What the bridge knows about one camera.
#[derive(Debug, Clone, Default)]
struct Camera {
    name: String,
    area: Option<String>,
    /// Listed in the file (as opposed to discovered from its messages).
    configured: bool,
    /// Its own `awake_timeout`, when the file gives one.
    awake_timeout: Option<Duration>,
    model: Option<String>,
    sw_version: Option<String>,

    /// When the alarm turns itself off; `None` while it is off.
    alarm_until: Option<Instant>,
    /// When the alarm last turned on, and when the last alarm came: each event tells both, so an
    /// automation can keep a cooldown per camera without state of its own.
    alarm_since: Option<Instant>,
    last_alarm: Option<Instant>,
    alarm_attributes: Option<Bytes>,
    /// Until when the next snapshot counts as the alarm's own picture; `None` when none is due.
    alarm_snapshot_until: Option<Instant>,
    status: Option<Bytes>,
    battery: Option<f64>,
    battery_voltage: Option<f64>,
    signal_dbm: Option<i32>,
    last_status: Option<String>,
    last_seen: Option<String>,

    presence: Presence,
    commands: CommandQueue,
}

/// Whether a camera is awake, and when it was last heard from.
#[derive(Debug, Clone, Default)]
struct Presence {
    /// Until when the camera counts as awake; `None` while it sleeps.
    awake_until: Option<Instant>,
    /// When its last message arrived, for attributing payloads that name no camera.
    heard: Option<Instant>,
    /// When "last seen" was last published.
    last_seen_sent: Option<Instant>,
}

/// Commands pressed while the camera slept, and the wakes sent for them.
#[derive(Debug, Clone, Default)]
struct CommandQueue {
    /// In order, waiting for it to wake.
    pending: Vec<CameraCommand>,
    /// Wakes sent for the pending commands, and when the latest one is given up on.
    wakes_sent: u32,
    wake_deadline: Option<Instant>,
    last_command_error: Option<String>,
}

impl Camera {
    fn from_config(c: &CameraConfig) -> Camera {
        Camera {
            name: c.name.clone(),
            area: c.area.clone(),
            configured: true,
            awake_timeout: c.awake_timeout,
            ..Camera::default()
        }
    }

    fn discovered(mac: Mac) -> Camera {
        Camera {
            name: default_camera_name(mac),
            ..Camera::default()
        }
    }

    fn info(&self, mac: Mac) -> CameraInfo<'_> {
        CameraInfo {
            mac,
            name: &self.name,
            area: self.area.as_deref(),
            model: self.model.as_deref(),
            sw_version: self.sw_version.as_deref(),
        }
    }

    /// Entities whose value only some firmware reports are announced once a value is seen.
    fn has(&self, entity: CameraEntity) -> bool {
        match entity {
            CameraEntity::BatteryVoltage => self.battery_voltage.is_some(),
            CameraEntity::Signal => self.signal_dbm.is_some(),
            _ => true,
        }
    }
}

/// An announcement in progress: the cameras whose configs, then states, are still to go out.
#[derive(Debug, Default)]
struct Announcing {
    configs: VecDeque<Mac>,
    states: VecDeque<Mac>,
    availability_sent: bool,
}

pub struct Bridge {
    /// Set while discovery and states are being announced (see `publish_everything`).
    announcing: Option<Announcing>,
    config: Config,
    topics: Topics,
    cameras: BTreeMap<Mac, Camera>,
    ha_connected: bool,
    camera_connected: bool,
    /// The errors of the last rejected file, as the problem sensor's attributes.
    config_problem: Option<Bytes>,
    actions: VecDeque<Action>,
    stats: Stats,
    /// When the diagnostics are next published; `None` while nothing changed.
    diagnostics_due: Option<Instant>,
    /// No camera timer (alarm, awake, wake retry) falls before this: timers are not scanned
    /// until then, so a message costs the same with 10 cameras or 10,000.
    next_camera_timer: Option<Instant>,
    /// A counter changed since the diagnostics were last published or scheduled: they are
    /// scheduled when the event's handling ends (time is an argument, never stored).
    diagnostics_dirty: bool,
    /// Cameras not to be discovered again (see [`Saved::dismissed`]).
    dismissed: VecDeque<Mac>,
    /// When the last unlisted camera was added (they are added one per [`NEW_CAMERA_EVERY`]).
    last_discovery: Option<Instant>,
    /// Refusals of unlisted cameras are logged once per [`REFUSALS_LOGGED_EVERY`]; the others
    /// since the last line are counted into the next one.
    refusal_logged: Option<Instant>,
    refusals_unlogged: u64,
    /// Home Assistant's birth messages: when the last one made the bridge announce everything,
    /// and when the next one may (a flood of them announces once per [`REANNOUNCE_EVERY`]).
    last_birth_announce: Option<Instant>,
    birth_announce_due: Option<Instant>,
    /// Alarm events waiting for Home Assistant to have subscribed (see [`EVENT_SETTLE`]).
    events: HeldEvents,
}

/// Alarm events held back while Home Assistant subscribes to what was just announced.
#[derive(Debug, Default)]
struct HeldEvents {
    /// Every camera was announced (a start, a reconnect, Home Assistant's birth): events of all
    /// cameras wait until then.
    all_until: Option<Instant>,
    /// Cameras announced on their own (a new one), and until when their events wait.
    cameras: BTreeMap<Mac, Instant>,
    /// In order of arrival, each with the time it may go.
    held: VecDeque<(Instant, Publish)>,
}

impl HeldEvents {
    fn release_at(&self, mac: Mac, now: Instant) -> Option<Instant> {
        let until = [self.all_until, self.cameras.get(&mac).copied()]
            .into_iter()
            .flatten()
            .max()?;
        (until > now).then_some(until)
    }

    fn next(&self) -> Option<Instant> {
        self.held.front().map(|(t, _)| *t)
    }
}

/// At most one unlisted camera becomes a device per this long: a stranger flooding random MACs
/// gets nowhere near `discover_max` in seconds, and a real new camera is added by its next message.
pub const NEW_CAMERA_EVERY: Duration = Duration::from_secs(10);

/// Refused unlisted cameras are logged at most once per this long (the sensor counts them all).
pub const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(60);

/// Home Assistant's birth message makes the bridge announce everything at most once per this long.
pub const REANNOUNCE_EVERY: Duration = Duration::from_secs(5);

/// How many dismissed cameras are remembered; the oldest is forgotten first.
pub const MAX_DISMISSED: usize = 256;

/// Home Assistant drops a text state longer than this (and logs an error): text states are cut
/// to it, the whole text going to the entity's attributes.
pub const MAX_STATE_CHARS: usize = 255;

/// A text kept as an attribute is cut to this: attributes are stored with every state change,
/// and Home Assistant's recorder refuses (and warns about) attributes over 16 KiB.
pub const MAX_ATTRIBUTE_CHARS: usize = 4096;

/// After a camera's entities are announced, its alarm events wait this long before they go out.
/// Home Assistant subscribes to a new entity's topic (and to a device trigger's, and an
/// automation's after it starts) a moment after the discovery config arrives, debounced; an event
/// is not retained, so one published before that is lost to the event entity and the triggers.
pub const EVENT_SETTLE: Duration = Duration::from_secs(3);

/// Events held during [`EVENT_SETTLE`], at most; past this (a flood) they go out at once.
pub const MAX_HELD_EVENTS: usize = 64;

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
            announcing: None,
            topics: topics_of(&config),
            config,
            cameras,
            ha_connected: false,
            camera_connected: false,
            config_problem: None,
            actions: VecDeque::new(),
            stats: Stats::default(),
            diagnostics_due: None,
            next_camera_timer: None,
            diagnostics_dirty: false,
            dismissed: VecDeque::new(),
            last_discovery: None,
            refusal_logged: None,
            refusals_unlogged: 0,
            last_birth_announce: None,
            birth_announce_due: None,
            events: HeldEvents::default(),
        }
    }

    /// What an earlier run saved (see [`Action::SaveState`]): discovered cameras (ignored when
    /// `discover_unknown` is off) and the commands still waiting for their camera, which are
    /// resumed once the camera side is connected. Call before the first event.
    pub fn restore(&mut self, saved: Saved) {
        if self.config.discover_unknown {
            for mac in saved.discovered {
                self.cameras
                    .entry(mac)
                    .or_insert_with(|| Camera::discovered(mac));
            }
        }
        self.dismissed = saved
            .dismissed
            .into_iter()
            .filter(|m| !self.cameras.get(m).is_some_and(|c| c.configured))
            .collect();
        for (mac, commands) in saved.pending {
            match self.cameras.get_mut(&mac) {
                Some(cam) => cam.commands.pending = commands,
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
                .filter(|(_, c)| !c.commands.pending.is_empty())
                .map(|(m, c)| (*m, c.commands.pending.clone()))
                .collect(),
            dismissed: self.dismissed.iter().copied().collect(),
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
        &self.stats
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
            self.next_camera_timer,
            self.diagnostics_due,
            self.birth_announce_due,
            self.events.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Does what has come due: alarms off, cameras asleep, wakes retried or given up,
    /// diagnostics published.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let macs: Vec<Mac> = if due(self.next_camera_timer) {
            self.cameras.keys().copied().collect()
        } else {
            Vec::new()
        };
        for &mac in &macs {
            let Some(cam) = self.cameras.get_mut(&mac) else {
                continue;
            };
            if due(cam.alarm_until) {
                cam.alarm_until = None;
                debug!("{} ({mac}): alarm off", cam.name);
                self.publish_state(mac, StateTopic::Alarm, Bytes::from_static(b"OFF"));
            }
            self.expire_awake(mac, now);
            self.retry_wake(mac, now);
        }
        if !macs.is_empty() {
            self.next_camera_timer = self
                .cameras
                .values()
                .flat_map(|c| {
                    [
                        c.alarm_until,
                        c.presence.awake_until,
                        c.commands.wake_deadline,
                    ]
                })
                .flatten()
                .min();
        }
        if due(self.birth_announce_due) {
            self.birth_announce_due = None;
            self.last_birth_announce = Some(now);
            info!("Home Assistant is online: publishing discovery and states again");
            self.publish_everything(now);
        }
        self.release_events(now);
        if due(self.diagnostics_due) {
            self.diagnostics_due = None;
            self.diagnostics_dirty = false;
            self.publish_diagnostics();
        }
        if std::mem::take(&mut self.diagnostics_dirty) && self.diagnostics_due.is_none() {
            self.diagnostics_due = Some(now + DIAGNOSTICS_EVERY);
        }
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
                self.stats.received += 1;
                self.diagnostics_changed();
                self.on_message(&topic, payload, retain, received, now);
            }
            Event::ConfigReloaded(config) => self.on_config(*config, now),
            Event::ArchiveFailed(why) => {
                warn!("{why}");
                self.stats.archive_failures += 1;
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
            self.stats.reconnects += 1;
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
        // Held events go now, late rather than never.
        let held: Vec<Publish> = self.events.held.drain(..).map(|(_, p)| p).collect();
        self.actions.extend(held.into_iter().map(Action::Publish));
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
            topics.announced_cameras_filter(),
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
        let filters = CameraTopic::filters(&self.config.camera_topic_prefix);
        self.actions.push_back(Action::Subscribe {
            link: Link::Camera,
            filters,
        });
    }

    // -----------------------------------------------------------------------------------------
    // What Home Assistant is told.

    /// Discovery for every device, then availability, then every known state: what Home Assistant
    /// needs after it (or the bridge, or the broker) restarted.
    ///
    /// Cameras are announced one at a time as the shell asks for more ([`Bridge::poll_action`]):
    /// with thousands of cameras the whole announcement never sits in memory at once.
    fn publish_everything(&mut self, now: Instant) {
        // Home Assistant may be (re)creating the entities: events wait for its subscriptions.
        self.events.all_until = Some(now + EVENT_SETTLE);
        for entity in self.bridge_entities() {
            let config = discovery::bridge_entity(&self.topics, entity);
            self.publish_json(self.topics.bridge_config(entity), &config);
        }
        let macs: VecDeque<Mac> = self.cameras.keys().copied().collect();
        self.announcing = Some(Announcing {
            configs: macs.clone(),
            states: macs,
            availability_sent: false,
        });
    }

    /// The next step of an announcement: one camera's configs; then availability and the
    /// bridge's states once every config is out; then one camera's states.
    fn announce_more(&mut self) {
        let Some(a) = self.announcing.as_mut() else {
            return;
        };
        if let Some(mac) = a.configs.pop_front() {
            // Awake was a binary sensor in earlier versions: its old config goes, once per announcement.
            let legacy = self.topics.legacy_awake_config(mac);
            self.publish(Link::Ha, legacy, Bytes::new(), true);
            return self.publish_discovery(mac);
        }
        if !a.availability_sent {
            a.availability_sent = true;
            self.publish(
                Link::Ha,
                self.topics.availability(),
                Bytes::from_static(b"online"),
                true,
            );
            self.publish_config_problem();
            self.publish_camera_broker();
            return self.publish_diagnostics();
        }
        match a.states.pop_front() {
            Some(mac) => self.publish_states(mac),
            None => self.announcing = None,
        }
    }

    fn publish_config_problem(&mut self) {
        let (state, attributes): (&'static [u8], Bytes) = match &self.config_problem {
            Some(attrs) => (b"ON", attrs.clone()),
            None => (b"OFF", Bytes::from_static(b"{}")),
        };
        let topics = &self.topics;
        let (attr_topic, state_topic) =
            (topics.config_problem_attributes(), topics.config_problem());
        self.publish(Link::Ha, attr_topic, attributes, true);
        self.publish(Link::Ha, state_topic, Bytes::from_static(state), true);
    }

    /// The bridge's own entities: the camera broker's link only when there is a separate one.
    fn bridge_entities(&self) -> impl Iterator<Item = BridgeEntity> {
        let separate = self.config.camera_mqtt.is_some();
        BridgeEntity::ALL
            .into_iter()
            .filter(move |e| separate || *e != BridgeEntity::CameraBroker)
    }

    /// `ON`/`OFF` for the link to a separate camera broker (nothing with one broker).
    fn publish_camera_broker(&mut self) {
        if self.config.camera_mqtt.is_none() || !self.ha_connected {
            return;
        }
        let state: &'static [u8] = if self.camera_connected { b"ON" } else { b"OFF" };
        self.publish(
            Link::Ha,
            self.topics.camera_broker(),
            Bytes::from_static(state),
            true,
        );
    }

    /// Publishes an alarm event, or holds it while Home Assistant is still subscribing to what
    /// was just announced (see [`EVENT_SETTLE`]).
    fn publish_event(&mut self, mac: Mac, payload: Bytes, now: Instant) {
        let publish = Publish {
            link: Link::Ha,
            topic: self.topics.state(mac, StateTopic::AlarmEvent),
            payload,
            qos: Link::Ha.qos(),
            retain: false,
        };
        self.stats.published += 1;
        match self.events.release_at(mac, now) {
            Some(at) if self.events.held.len() < MAX_HELD_EVENTS => {
                debug!("{mac}: alarm event held until Home Assistant has subscribed");
                self.events.held.push_back((at, publish));
            }
            _ => self.actions.push_back(Action::Publish(publish)),
        }
    }

    /// Sends the held events whose time has come, in order; forgets settle times that passed.
    fn release_events(&mut self, now: Instant) {
        while self.events.next().is_some_and(|t| t <= now) {
            if let Some((_, publish)) = self.events.held.pop_front() {
                self.actions.push_back(Action::Publish(publish));
            }
        }
        if self.events.all_until.is_some_and(|t| t <= now) {
            self.events.all_until = None;
        }
        self.events.cameras.retain(|_, t| *t > now);
    }

    /// Records a problem for the "last error" sensor (the caller logs it).
    fn note_error(&mut self, message: String) {
        self.stats.last_error = Some(message);
        self.diagnostics_changed();
    }

    /// Something counted changed: publish the diagnostics, but not more often than
    /// [`DIAGNOSTICS_EVERY`].
    fn diagnostics_changed(&mut self) {
        self.diagnostics_dirty = true;
    }

    fn publish_diagnostics(&mut self) {
        let s = &self.stats;
        let values = [
            (Diagnostic::Received, s.received.to_string()),
            // Counted before these publishes; they are the bridge's bookkeeping, not its work.
            (Diagnostic::Published, s.published.to_string()),
            (Diagnostic::Rejected, s.rejected.to_string()),
            (Diagnostic::Unattributed, s.unattributed.to_string()),
            (Diagnostic::RefusedCameras, s.refused_cameras.to_string()),
            (Diagnostic::Reconnects, s.reconnects.to_string()),
            (Diagnostic::ArchiveFailures, s.archive_failures.to_string()),
            (
                Diagnostic::LastError,
                s.last_error
                    .as_deref()
                    .map_or_else(|| "none".into(), |e| cut(e, MAX_STATE_CHARS)),
            ),
        ];
        let message = s.last_error.as_deref().map(|e| cut(e, MAX_ATTRIBUTE_CHARS));
        let attributes = serde_json::json!({ "message": message });
        let topic = self.topics.last_error_attributes();
        self.push_publish(Link::Ha, topic, Bytes::from(attributes.to_string()), true);
        for (d, value) in values {
            let topic = self.topics.diagnostic(d);
            self.push_publish(Link::Ha, topic, Bytes::from(value), true);
        }
    }

    fn publish_discovery(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        let configs: Vec<(String, _)> = CameraEntity::ALL
            .into_iter()
            .filter(|e| cam.has(*e))
            .map(|e| {
                let topic = self.topics.camera_config(mac, e);
                (
                    topic,
                    discovery::camera_entity(&self.topics, &cam.info(mac), e),
                )
            })
            .collect();
        let triggers: Vec<(String, _)> = ALARM_TRIGGERS
            .into_iter()
            .map(|kind| {
                let topic = self.topics.trigger_config(mac, kind);
                (
                    topic,
                    discovery::alarm_trigger(&self.topics, &cam.info(mac), kind),
                )
            })
            .collect();
        for (topic, config) in configs {
            self.publish_json(topic, &config);
        }
        for (topic, trigger) in triggers {
            self.publish_json(topic, &trigger);
        }
    }

    /// One camera's configs and states, outside a whole announcement (a new camera, a rename):
    /// its events wait while Home Assistant subscribes.
    fn announce_camera(&mut self, mac: Mac, now: Instant) {
        self.publish_discovery(mac);
        self.publish_states(mac);
        self.events.cameras.insert(mac, now + EVENT_SETTLE);
    }

    fn publish_states(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        let on_off = |on: bool| Bytes::from_static(if on { b"ON" } else { b"OFF" });
        let mut states = vec![
            (StateTopic::Alarm, on_off(cam.alarm_until.is_some())),
            (
                StateTopic::Awake,
                awake_state(cam.presence.awake_until.is_some()),
            ),
        ];
        let known = [
            (StateTopic::AlarmAttributes, cam.alarm_attributes.clone()),
            (StateTopic::Status, cam.status.clone()),
            (StateTopic::Battery, cam.battery.map(number_payload)),
            (
                StateTopic::BatteryVoltage,
                cam.battery_voltage.map(number_payload),
            ),
            (
                StateTopic::Signal,
                cam.signal_dbm.map(|d| Bytes::from(d.to_string())),
            ),
            (
                StateTopic::LastStatus,
                cam.last_status.clone().map(Bytes::from),
            ),
            (StateTopic::LastSeen, cam.last_seen.clone().map(Bytes::from)),
        ];
        states.extend(known.into_iter().filter_map(|(s, v)| Some((s, v?))));
        for (state, payload) in states {
            self.publish_state(mac, state, payload);
        }
        self.publish_pending(mac);
    }

    // -----------------------------------------------------------------------------------------
    // Output.

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
        self.stats.published += 1;
        self.push_publish(link, topic, payload, retain);
    }

    fn push_publish(&mut self, link: Link, topic: String, payload: Bytes, retain: bool) {
        self.actions.push_back(Action::Publish(Publish {
            link,
            topic,
            payload,
            qos: link.qos(),
            retain,
        }));
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
    Bytes::from_static(if awake { b"awake" } else { b"asleep" })
}

/// A camera timer was set for `at`: the earliest one moves up if need be.
fn timer_set(next: &mut Option<Instant>, at: Instant) {
    *next = Some(next.map_or(at, |t| t.min(at)));
}

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

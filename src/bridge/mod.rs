//! The bridge's logic, without I/O: events in, MQTT actions out.
//!
//! [`Bridge`] is told what happened ([`Bridge::handle`]: a connection came up, a message arrived,
//! the configuration changed) and what time it is; it queues [`Action`]s (subscribe, publish, save
//! state) that the shell drains with [`Bridge::poll_action`] and carries out, and it says when it
//! next needs to be woken ([`Bridge::poll_timeout`]: an alarm to turn off, a camera falling asleep,
//! a wake to retry, diagnostics to publish). No sockets, no clock, no tokio: every scenario is a
//! unit test that runs in microseconds.
//!
//! - `action.rs`: the [`Event`]s the shell tells the core, the [`Action`]s it asks for.
//! - `camera.rs`: what the bridge knows about one camera.
//! - `messages.rs`: every message received, routed by topic; `snapshots.rs` and `reports.rs`
//!   (alarms, status reports, configuration answers, on one skeleton) read the cameras';
//!   `sender.rs` works out which camera sent one; `presence.rs` keeps whether it is awake.
//! - `admission.rs`: unlisted cameras, admitted within bounds or refused; dismissed ones.
//! - `commands.rs`: button presses, and the queue that holds them while a camera sleeps.
//! - `announce.rs`: discovery, availability and states for Home Assistant; its birth messages;
//!   alarm events held while it subscribes, and the acknowledgements of the camera messages
//!   that came after them.
//! - `diagnostics.rs`: the counters' values, and whether they changed since published.
//! - `reload.rs`: configuration changes, removed cameras, ghosts of earlier runs.
//! - `timers.rs`: every deadline of the core (the cameras' alarm off, asleep, wake unanswered;
//!   its own diagnostics, folded birth message and held events), in deadline order.
//! - `output.rs`: every publish queued (and counted) for the shell.
//! - `saved.rs`: what is remembered across restarts; `payload.rs`: texts and numbers as Home
//!   Assistant takes them.

mod action;
mod admission;
mod announce;
mod camera;
mod commands;
mod diagnostics;
mod messages;
mod output;
mod payload;
mod presence;
mod reload;
mod reports;
mod saved;
mod sender;
mod snapshots;
mod timers;

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use tracing::{debug, warn};

use crate::config::Config;
use crate::discovery::{StateTopic, Topics};
use crate::mac::Mac;

pub use action::{Ack, Action, ArchiveRequest, Event, Link, Publish, Qos};
pub use admission::{MAX_DISMISSED, NEW_CAMERA_EVERY, REFUSALS_LOGGED_EVERY};
pub use announce::{EVENT_SETTLE, MAX_HELD_ACKS, MAX_HELD_EVENTS, REANNOUNCE_EVERY};
pub use diagnostics::{Stats, DIAGNOSTICS_EVERY};
pub use payload::{cut, MAX_ATTRIBUTE_CHARS, MAX_STATE_CHARS};
pub use saved::Saved;
pub use sender::ATTRIBUTION_WINDOW;

use payload::{awake_state, number_payload};

use crate::discovery::Counter;
use admission::Admission;
use announce::{Announcing, HeldEvents, Reannounce};
use camera::Camera;
use diagnostics::Diagnostics;
use output::Outbox;
use timers::{BridgeTimer, CameraTimer, Timer, TimerTable};

pub struct Bridge {
    config: Config,
    topics: Topics,
    cameras: BTreeMap<Mac, Camera>,
    /// Which of the two links is up (one connection with one broker).
    ha_connected: bool,
    camera_connected: bool,
    /// The errors of the last rejected file, as the problem sensor's attributes.
    config_problem: Option<Bytes>,
    /// What the shell is to do next (output.rs alone fills it).
    outbox: Outbox,
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
            outbox: Outbox::default(),
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
        // Through `dismiss`, so that a state file holding more than the cap keeps only the
        // newest, as a running bridge would have.
        for mac in saved.dismissed {
            if !self.cameras.get(&mac).is_some_and(|c| c.is_configured()) {
                self.admission.dismiss(mac);
            }
        }
        for (mac, dev_name) in saved.dev_names {
            if let Some(cam) = self.cameras.get_mut(&mac) {
                cam.take_dev_name(mac, dev_name);
            }
        }
        for (mac, commands) in saved.pending {
            match self.cameras.get_mut(&mac) {
                Some(cam) => cam.restore_commands(commands),
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
            .filter(|(_, c)| !c.is_configured())
            .map(|(m, _)| *m)
            .collect()
    }

    fn saved(&self) -> Saved {
        Saved {
            discovered: self.discovered(),
            pending: self
                .cameras
                .iter()
                .filter(|(_, c)| !c.commands().is_empty())
                .map(|(m, c)| (*m, c.commands().pending().to_vec()))
                .collect(),
            dismissed: self.admission.dismissed().collect(),
            dev_names: self
                .cameras
                .iter()
                .filter_map(|(m, c)| Some((*m, c.dev_name()?.to_string())))
                .collect(),
            device_discovery: self.discovery_migrated,
        }
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
        !self.outbox.is_empty() || self.announcing.is_some()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        while self.outbox.is_empty() && self.announcing.is_some() {
            self.announce_more();
        }
        self.outbox.pop()
    }

    /// The next time [`Bridge::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Does what has come due: alarms off, cameras asleep, wakes retried or given up, a folded
    /// birth message answered, held alarm events released, diagnostics published.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fire_timers(now);
        self.events.forget_settled(now);
        if self.diagnostics.take_changed()
            && self.timers.get_bridge(BridgeTimer::Diagnostics).is_none()
        {
            let at = now + DIAGNOSTICS_EVERY;
            self.timers.set_bridge(BridgeTimer::Diagnostics, Some(at));
        }
    }

    /// The timers whose time has come, fired. Run before every event too, so that a timer still
    /// set is one whose time has not come: "awake" is then only whether the camera's Asleep timer
    /// is set ([`Bridge::is_awake`]), whoever asks and whenever.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Camera(mac, timer) => self.camera_timer(mac, timer, now),
                Timer::Bridge(BridgeTimer::Reannounce) => self.reannounce(now),
                Timer::Bridge(BridgeTimer::HeldEvents) => self.release_events(now),
                Timer::Bridge(BridgeTimer::Diagnostics) => {
                    // What changed until now is in this publication.
                    self.diagnostics.take_changed();
                    self.publish_diagnostics();
                }
            }
        }
    }

    fn camera_timer(&mut self, mac: Mac, timer: CameraTimer, now: Instant) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        match timer {
            CameraTimer::AlarmOff => {
                debug!("{} ({mac}): alarm off", cam.name());
                self.publish_state(mac, StateTopic::Alarm, Bytes::from_static(b"OFF"));
            }
            CameraTimer::Asleep => self.fall_asleep(mac),
            CameraTimer::WakeUnanswered => self.wake_unanswered(mac, now),
        }
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        self.fire_timers(now);
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
                ack,
            } => {
                self.diagnostics.count(Counter::Received, 1);
                self.on_message(&topic, payload, retain, received, now);
                if let Some(ack) = ack {
                    self.acknowledge(ack);
                }
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
        self.subscribe(Link::Ha, filters);
    }

    fn subscribe_cameras(&mut self) {
        let filters = self.config.camera_topics.filters();
        self.subscribe(Link::Camera, filters);
    }
}

#[cfg(test)]
mod tests;

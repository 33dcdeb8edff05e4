//! The bridge's logic, without I/O: events in, MQTT actions out.
//!
//! [`Bridge`] is told what happened ([`Bridge::handle`]: a connection came up, a message arrived,
//! the configuration changed) and what time it is; it queues [`Action`]s (subscribe, publish) that
//! the shell drains with [`Bridge::poll_action`] and carries out, and it says when it next needs to
//! be woken ([`Bridge::poll_timeout`], for alarms that turn themselves off). No sockets, no clock,
//! no tokio: every scenario is a unit test that runs in microseconds.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tracing::{debug, info, warn};

use crate::config::{default_camera_name, CameraConfig, Config};
use crate::discovery::{BridgeEntity, CameraEntity, CameraInfo, State, Topics};
use crate::mac::Mac;
use crate::protocol::snapshot;
use crate::protocol::{parse_object, CameraCommand, CameraTopic, StatusReport};

/// A payload without a MAC is given to the camera heard from within this long, if only one was.
pub const ATTRIBUTION_WINDOW: Duration = Duration::from_secs(10);

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

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection is up (first time or again): subscribe, and publish what that side needs.
    Connected(Link),
    Disconnected(Link),
    /// A message on any subscribed topic, from either connection.
    Message {
        topic: String,
        payload: Bytes,
        /// Delivered from the broker's store (sent before we subscribed), not live.
        retain: bool,
        /// Wall-clock time of receipt, for the "last status" timestamp.
        received: SystemTime,
    },
    /// A new, valid configuration (the file changed).
    ConfigReloaded(Box<Config>),
    /// The file changed but is not valid (or is gone): the running configuration stays, and Home
    /// Assistant shows the problem until a valid file arrives.
    ConfigRejected {
        file: String,
        errors: Vec<String>,
    },
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
    /// The cameras discovered (not configured) changed: keep this list across restarts, so that
    /// their entities are not taken for ghosts at the next start.
    SaveDiscovered(Vec<Mac>),
}

/// Counters for the log and, later, diagnostic entities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub published: u64,
    /// Payloads that could not be read or were refused (no JPEG, too large, not JSON…).
    pub rejected: u64,
    /// Payloads whose camera could not be told.
    pub unattributed: u64,
}

/// What the bridge knows about one camera.
#[derive(Debug, Clone, Default)]
struct Camera {
    name: String,
    area: Option<String>,
    /// Listed in the file (as opposed to discovered from its messages).
    configured: bool,
    model: Option<String>,
    sw_version: Option<String>,
    snapshot: Option<Bytes>,
    /// When the alarm turns itself off; `None` while it is off.
    alarm_until: Option<Instant>,
    alarm_attributes: Option<Bytes>,
    status: Option<Bytes>,
    battery: Option<f64>,
    battery_voltage: Option<f64>,
    signal_dbm: Option<i32>,
    last_status: Option<String>,
}

impl Camera {
    fn from_config(c: &CameraConfig) -> Camera {
        Camera {
            name: c.name.clone(),
            area: c.area.clone(),
            configured: true,
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

pub struct Bridge {
    config: Config,
    topics: Topics,
    cameras: BTreeMap<Mac, Camera>,
    /// Cameras heard from lately, newest last, for attributing payloads that carry no MAC.
    recent: VecDeque<(Mac, Instant)>,
    ha_connected: bool,
    camera_connected: bool,
    /// The errors of the last rejected file, as the problem sensor's attributes.
    config_problem: Option<Bytes>,
    actions: VecDeque<Action>,
    stats: Stats,
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
            recent: VecDeque::new(),
            ha_connected: false,
            camera_connected: false,
            config_problem: None,
            actions: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Cameras discovered in an earlier run (see [`Action::SaveDiscovered`]); ignored when
    /// `discover_unknown` is off. Call before the first event.
    pub fn restore_discovered(&mut self, macs: impl IntoIterator<Item = Mac>) {
        if !self.config.discover_unknown {
            return;
        }
        for mac in macs {
            self.cameras
                .entry(mac)
                .or_insert_with(|| Camera::discovered(mac));
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

    /// The errors of the file last rejected, while it stays rejected.
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

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next time [`Bridge::handle_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.cameras.values().filter_map(|c| c.alarm_until).min()
    }

    /// Turns off the alarms whose time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<Mac> = self
            .cameras
            .iter()
            .filter(|(_, c)| c.alarm_until.is_some_and(|t| t <= now))
            .map(|(m, _)| *m)
            .collect();
        for mac in due {
            if let Some(cam) = self.cameras.get_mut(&mac) {
                cam.alarm_until = None;
                debug!("{} ({mac}): alarm off", cam.name);
            }
            self.publish_state(mac, State::Alarm, Bytes::from_static(b"OFF"));
        }
    }

    pub fn handle(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connected(Link::Ha) => {
                self.ha_connected = true;
                self.subscribe_ha();
                self.publish_everything();
            }
            Event::Connected(Link::Camera) => {
                self.camera_connected = true;
                self.subscribe_cameras();
            }
            Event::Disconnected(Link::Ha) => self.ha_connected = false,
            Event::Disconnected(Link::Camera) => self.camera_connected = false,
            Event::Message {
                topic,
                payload,
                retain,
                received,
            } => {
                self.stats.received += 1;
                self.on_message(&topic, payload, retain, received, now);
            }
            Event::ConfigReloaded(config) => {
                self.reload(*config);
                if self.config_problem.take().is_some() {
                    info!("the configuration file is valid again");
                    self.publish_config_problem();
                }
            }
            Event::ConfigRejected { file, errors } => {
                let attributes = serde_json::json!({ "file": file, "errors": errors });
                self.config_problem = Some(Bytes::from(attributes.to_string()));
                self.publish_config_problem();
            }
            Event::Shutdown => self.publish(
                Link::Ha,
                self.topics.availability(),
                Bytes::from_static(b"offline"),
                true,
            ),
        }
        self.handle_timeout(now);
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

    /// Discovery for every device, then availability, then every known state: what Home Assistant
    /// needs after it (or the bridge, or the broker) restarted.
    fn publish_everything(&mut self) {
        for entity in BridgeEntity::ALL {
            let config = self.topics.bridge_entity(entity);
            self.publish_json(self.topics.bridge_config(entity), &config);
        }
        let macs: Vec<Mac> = self.cameras.keys().copied().collect();
        for &mac in &macs {
            self.publish_discovery(mac);
        }
        self.publish(
            Link::Ha,
            self.topics.availability(),
            Bytes::from_static(b"online"),
            true,
        );
        self.publish_config_problem();
        for mac in macs {
            self.publish_states(mac);
        }
    }

    fn publish_config_problem(&mut self) {
        let (state, attributes): (&'static [u8], Bytes) = match &self.config_problem {
            Some(attrs) => (b"ON", attrs.clone()),
            None => (b"OFF", Bytes::from_static(b"{}")),
        };
        self.publish(
            Link::Ha,
            self.topics.config_problem_attributes(),
            attributes,
            true,
        );
        self.publish(
            Link::Ha,
            self.topics.config_problem(),
            Bytes::from_static(state),
            true,
        );
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
                (topic, self.topics.camera_entity(&cam.info(mac), e))
            })
            .collect();
        for (topic, config) in configs {
            self.publish_json(topic, &config);
        }
    }

    fn publish_states(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        let alarm: &'static [u8] = if cam.alarm_until.is_some() {
            b"ON"
        } else {
            b"OFF"
        };
        let mut states = vec![(State::Alarm, Bytes::from_static(alarm))];
        let known = [
            (State::AlarmAttributes, cam.alarm_attributes.clone()),
            (State::Snapshot, cam.snapshot.clone()),
            (State::Status, cam.status.clone()),
            (State::Battery, cam.battery.map(number)),
            (State::BatteryVoltage, cam.battery_voltage.map(number)),
            (
                State::Signal,
                cam.signal_dbm.map(|d| Bytes::from(d.to_string())),
            ),
            (State::LastStatus, cam.last_status.clone().map(Bytes::from)),
        ];
        states.extend(known.into_iter().filter_map(|(s, v)| Some((s, v?))));
        for (state, payload) in states {
            self.publish_state(mac, state, payload);
        }
    }

    /// Deletes a camera's entities from Home Assistant and clears its retained states.
    fn remove_camera(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.remove(&mac) else {
            return;
        };
        info!("{} ({mac}): removed from Home Assistant", cam.name);
        self.recent.retain(|(m, _)| *m != mac);
        let topics = self.topics.clone();
        self.clear_camera(&topics, mac, true, true);
    }

    /// Empties a camera's retained discovery configs and/or states under `topics`.
    fn clear_camera(&mut self, topics: &Topics, mac: Mac, configs: bool, states: bool) {
        if configs {
            for e in CameraEntity::ALL {
                self.publish(Link::Ha, topics.camera_config(mac, e), Bytes::new(), true);
            }
        }
        if states {
            for s in State::ALL {
                self.publish(Link::Ha, topics.state(mac, s), Bytes::new(), true);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Configuration changes.

    fn reload(&mut self, new: Config) {
        let topics_changed = new.discovery_prefix != self.config.discovery_prefix
            || new.base_topic != self.config.base_topic;
        let prefix_changed = new.camera_topic_prefix != self.config.camera_topic_prefix;

        if topics_changed {
            // Everything moves: clear what stands under the old names (configs only where their
            // topics change: unique_ids do not, so Home Assistant updates those in place).
            let old = std::mem::replace(&mut self.topics, topics_of(&new));
            let configs_moved = old.discovery_prefix != self.topics.discovery_prefix;
            let states_moved = old.base != self.topics.base;
            let macs: Vec<Mac> = self.cameras.keys().copied().collect();
            for mac in macs {
                self.clear_camera(&old, mac, configs_moved, states_moved);
            }
            for entity in BridgeEntity::ALL {
                if old.bridge_config(entity) != self.topics.bridge_config(entity) {
                    self.publish(Link::Ha, old.bridge_config(entity), Bytes::new(), true);
                }
            }
            if states_moved {
                for topic in [
                    old.availability(),
                    old.config_problem(),
                    old.config_problem_attributes(),
                ] {
                    self.publish(Link::Ha, topic, Bytes::new(), true);
                }
            }
            self.actions.push_back(Action::Unsubscribe {
                link: Link::Ha,
                filters: Self::ha_filters(&old),
            });
        }
        if prefix_changed {
            let old = CameraTopic::filters(&self.config.camera_topic_prefix);
            self.actions.push_back(Action::Unsubscribe {
                link: Link::Camera,
                filters: old,
            });
        }

        // Cameras: remove, update, add, so that Home Assistant sees only the difference.
        let gone: Vec<Mac> = self
            .cameras
            .iter()
            .filter(|(mac, cam)| {
                let listed = new.cameras.iter().any(|c| c.mac == **mac);
                !listed && (cam.configured || !new.discover_unknown)
            })
            .map(|(m, _)| *m)
            .collect();
        let discovered_before = self.discovered();
        for mac in gone {
            self.remove_camera(mac);
        }
        let mut changed = Vec::new();
        for c in &new.cameras {
            match self.cameras.get_mut(&c.mac) {
                Some(cam) => {
                    if cam.name != c.name || cam.area != c.area || !cam.configured {
                        info!("{} ({}): now named {:?}", cam.name, c.mac, c.name);
                        cam.name = c.name.clone();
                        cam.area = c.area.clone();
                        cam.configured = true;
                        changed.push(c.mac);
                    }
                }
                None => {
                    info!("{} ({}): added", c.name, c.mac);
                    self.cameras.insert(c.mac, Camera::from_config(c));
                    changed.push(c.mac);
                }
            }
        }
        self.config = new;
        if self.discovered() != discovered_before {
            self.actions
                .push_back(Action::SaveDiscovered(self.discovered()));
        }

        if topics_changed {
            if self.ha_connected {
                self.subscribe_ha();
                self.publish_everything();
            }
        } else if self.ha_connected {
            for mac in changed {
                self.publish_discovery(mac);
                self.publish_states(mac);
            }
        }
        if prefix_changed && self.camera_connected {
            self.subscribe_cameras();
        }
    }

    // -----------------------------------------------------------------------------------------
    // Messages.

    fn on_message(
        &mut self,
        topic: &str,
        payload: Bytes,
        retain: bool,
        received: SystemTime,
        now: Instant,
    ) {
        if let Some(kind) = CameraTopic::parse(&self.config.camera_topic_prefix, topic) {
            match kind {
                CameraTopic::Snapshot(mac) => self.on_snapshot(topic, mac, payload, now),
                CameraTopic::Alarm(mac) => self.on_alarm(topic, mac, payload, now),
                CameraTopic::Status(mac) => self.on_status(topic, mac, payload, received, now),
            }
        } else if topic == self.topics.ha_status() {
            if payload.as_ref() == b"online" {
                info!("Home Assistant is online: publishing discovery and states again");
                self.publish_everything();
            }
        } else if let Some(mac) = self.topics.parse_command(topic) {
            self.on_command(topic, mac, &payload);
        } else if let Some(mac) = self.topics.announced_camera(topic, &payload) {
            // Our own announcement from an earlier run. One for a camera no longer configured
            // (nor discovered) is a ghost: take its entities down.
            if retain && !self.cameras.contains_key(&mac) {
                info!("camera {mac} is no longer configured: removing the entities an earlier run created");
                let topics = self.topics.clone();
                self.clear_camera(&topics, mac, true, true);
            }
        } else {
            debug!("{topic}: not a topic the bridge reads; ignored");
        }
    }

    fn on_command(&mut self, topic: &str, mac: Result<Mac, String>, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload);
        let (mac, command) = match (mac, text.parse::<CameraCommand>()) {
            (Ok(mac), Ok(cmd)) => (mac, cmd),
            (Err(e), _) | (_, Err(e)) => {
                self.stats.rejected += 1;
                warn!("{topic}: command refused: {e}");
                return;
            }
        };
        let name = match self.cameras.get(&mac) {
            Some(cam) => cam.name.clone(),
            None if self.config.discover_unknown => default_camera_name(mac),
            None => {
                self.stats.rejected += 1;
                warn!("{topic}: {command} refused: camera {mac} is not in the configuration");
                return;
            }
        };
        let cam_topic = command.topic(&self.config.camera_topic_prefix, mac);
        info!("{name} ({mac}): sending {command} on {cam_topic}");
        self.publish_with(
            Link::Camera,
            cam_topic,
            Bytes::from_static(command.payload().as_bytes()),
            Qos::AtLeastOnce,
            false,
        );
    }

    fn on_snapshot(&mut self, topic: &str, topic_mac: Option<Mac>, payload: Bytes, now: Instant) {
        let size = payload.len();
        let found = match snapshot::extract(&payload) {
            Ok(s) => s,
            Err(e) => {
                self.stats.rejected += 1;
                warn!("{topic}: {size}-byte snapshot rejected: {e}; nothing published");
                return;
            }
        };
        // The payload is no longer needed; only the JPEG slice of it is kept.
        drop(payload);
        let Some(mac) = self.attribute(topic, "snapshot", size, topic_mac.or(found.mac), now)
        else {
            return;
        };
        let jpeg_len = found.jpeg.len();
        if jpeg_len > self.config.snapshot_max_bytes {
            self.stats.rejected += 1;
            let name = self
                .cameras
                .get(&mac)
                .map_or(String::new(), |c| c.name.clone());
            warn!(
                "{topic}: snapshot of {jpeg_len} bytes from {name} ({mac}) is larger than \
                 snapshot_max_bytes ({}); not forwarded. Raise snapshot_max_bytes if your broker \
                 accepts larger messages",
                self.config.snapshot_max_bytes
            );
            return;
        }
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        info!(
            "{} ({mac}): snapshot, {jpeg_len} bytes ({})",
            cam.name, found.form
        );
        cam.snapshot = Some(found.jpeg.clone());
        self.publish_state(mac, State::Snapshot, found.jpeg);
    }

    fn on_alarm(&mut self, topic: &str, topic_mac: Option<Mac>, payload: Bytes, now: Instant) {
        let size = payload.len();
        // An alarm is an alarm even when its payload is not JSON; keep what it said.
        let (payload_mac, attributes) = match parse_object(&payload) {
            Ok(obj) => (
                crate::protocol::find_mac(&serde_json::Value::Object(obj)),
                payload,
            ),
            Err(_) => {
                let raw = String::from_utf8_lossy(&payload);
                let attrs =
                    serde_json::json!({ "raw": raw.chars().take(1024).collect::<String>() });
                (
                    crate::mac::Mac::find_in(&payload),
                    Bytes::from(attrs.to_string()),
                )
            }
        };
        let Some(mac) = self.attribute(topic, "alarm", size, topic_mac.or(payload_mac), now) else {
            return;
        };
        let until = now + self.config.alarm_off_after;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        info!("{} ({mac}): alarm", cam.name);
        cam.alarm_until = Some(until);
        cam.alarm_attributes = Some(attributes.clone());
        self.publish_state(mac, State::AlarmAttributes, attributes);
        self.publish_state(mac, State::Alarm, Bytes::from_static(b"ON"));
    }

    fn on_status(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: Bytes,
        received: SystemTime,
        now: Instant,
    ) {
        let size = payload.len();
        let obj = match parse_object(&payload) {
            Ok(obj) => obj,
            // `<prefix>/Status/<MAC>` also carries status requests (ours, or another client's).
            Err(_) if topic_mac.is_some() => {
                debug!("{topic}: a status request, not a report");
                return;
            }
            Err(e) => {
                self.stats.rejected += 1;
                warn!("{topic}: {size}-byte status rejected: {e}");
                return;
            }
        };
        let report = StatusReport::read(&obj);
        let Some(mac) = self.attribute(topic, "status", size, topic_mac.or(report.mac), now) else {
            return;
        };
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        let new_entities = (report.battery_voltage.is_some() && cam.battery_voltage.is_none())
            || (report.signal_dbm.is_some() && cam.signal_dbm.is_none());
        let device_changed = (report.firmware.is_some() && report.firmware != cam.sw_version)
            || (report.model.is_some() && report.model != cam.model);
        cam.battery = report.battery_percent.or(cam.battery);
        cam.battery_voltage = report.battery_voltage.or(cam.battery_voltage);
        cam.signal_dbm = report.signal_dbm.or(cam.signal_dbm);
        cam.sw_version = report.firmware.or(cam.sw_version.take());
        cam.model = report.model.or(cam.model.take());
        cam.last_status = Some(humantime::format_rfc3339_seconds(received).to_string());
        cam.status = Some(payload.clone());
        info!(
            "{} ({mac}): status{}",
            cam.name,
            cam.battery
                .map_or(String::new(), |b| format!(", battery {b}%"))
        );
        if new_entities || device_changed {
            self.publish_discovery(mac);
        }
        self.publish_states(mac);
    }

    /// Which camera a payload is from: the MAC it names, else the only configured camera, else the
    /// one camera heard from within [`ATTRIBUTION_WINDOW`]. Makes an unknown camera appear when
    /// `discover_unknown` is on. `None` (logged and counted) when it cannot tell.
    fn attribute(
        &mut self,
        topic: &str,
        what: &str,
        size: usize,
        mac: Option<Mac>,
        now: Instant,
    ) -> Option<Mac> {
        self.recent
            .retain(|(_, t)| now.saturating_duration_since(*t) <= ATTRIBUTION_WINDOW);
        let mac = match mac {
            Some(mac) => mac,
            None if self.config.cameras.len() == 1 => self.config.cameras[0].mac,
            None => {
                let mut heard: Vec<Mac> = self.recent.iter().map(|(m, _)| *m).collect();
                heard.sort();
                heard.dedup();
                match heard[..] {
                    [only] => only,
                    [] => {
                        self.stats.unattributed += 1;
                        warn!(
                            "{topic}: {size}-byte {what} names no camera and none was heard from in \
                             the last {}s; dropped. Firmware that puts the MAC in the payload or \
                             topic avoids this",
                            ATTRIBUTION_WINDOW.as_secs()
                        );
                        return None;
                    }
                    _ => {
                        self.stats.unattributed += 1;
                        warn!(
                            "{topic}: {size}-byte {what} names no camera and {} cameras were heard \
                             from in the last {}s; dropped rather than given to the wrong one",
                            heard.len(),
                            ATTRIBUTION_WINDOW.as_secs()
                        );
                        return None;
                    }
                }
            }
        };
        if !self.cameras.contains_key(&mac) {
            if !self.config.discover_unknown {
                self.stats.rejected += 1;
                warn!("{topic}: {what} from camera {mac}, which is not in the configuration (discover_unknown is off); ignored");
                return None;
            }
            let cam = Camera::discovered(mac);
            info!(
                "{}: new camera, not in the configuration; adding it to Home Assistant",
                cam.name
            );
            self.cameras.insert(mac, cam);
            self.actions
                .push_back(Action::SaveDiscovered(self.discovered()));
            if self.ha_connected {
                self.publish_discovery(mac);
                self.publish_states(mac);
            }
        }
        self.recent.push_back((mac, now));
        Some(mac)
    }

    // -----------------------------------------------------------------------------------------
    // Output.

    fn publish_state(&mut self, mac: Mac, state: State, payload: Bytes) {
        self.publish(Link::Ha, self.topics.state(mac, state), payload, true);
    }

    fn publish_json<T: serde::Serialize>(&mut self, topic: String, value: &T) {
        match serde_json::to_vec(value) {
            Ok(json) => self.publish(Link::Ha, topic, Bytes::from(json), true),
            Err(e) => warn!("{topic}: cannot serialise: {e}"),
        }
    }

    fn publish(&mut self, link: Link, topic: String, payload: Bytes, retain: bool) {
        self.publish_with(link, topic, payload, Qos::AtLeastOnce, retain);
    }

    fn publish_with(&mut self, link: Link, topic: String, payload: Bytes, qos: Qos, retain: bool) {
        self.stats.published += 1;
        self.actions.push_back(Action::Publish(Publish {
            link,
            topic,
            payload,
            qos,
            retain,
        }));
    }
}

/// `87` rather than `87.0`; `3.95` as it came.
fn number(v: f64) -> Bytes {
    Bytes::from(if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    })
}

#[cfg(test)]
mod tests;

//! Home Assistant MQTT discovery: the topics the bridge uses (here, [`Topics`]) and the config
//! payloads it sends ([`payloads`]).
//!
//! Every payload is a serde struct, so the JSON Home Assistant receives is visible field by field
//! there and in one test. Unique ids come from the MAC (`solarcam_5cc5638ae24c_battery`), so they
//! survive renames and restarts; entity ids are set from the names ([`entity_id`]). Names never
//! repeat the device name: Home Assistant prefixes it itself.

pub mod counter;
pub mod entities;
pub mod entity_id;
pub mod payloads;

use crate::mac::{Mac, MacError};
use crate::protocol::CameraCommand;

pub use counter::Counter;
pub use entities::{bridge_entity, camera_entity};
pub use payloads::{
    alarm_trigger, bridge_device_config, camera_device, camera_device_config, trigger_key,
    CameraInfo, Component, Device, DeviceConfig, DeviceTrigger, EntityConfig, Origin, Platform,
    ALARM_TRIGGERS, ORIGIN,
};

/// Where things live on the Home Assistant broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub discovery_prefix: String,
    pub base: String,
}

impl Topics {
    /// The bridge's retained `online`/`offline` (its MQTT last will), which every entity follows.
    pub fn availability(&self) -> String {
        format!("{}/bridge/availability", self.base)
    }

    /// Home Assistant's birth and last-will topic.
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.discovery_prefix)
    }

    pub fn state(&self, mac: Mac, state: StateTopic) -> String {
        format!("{}/{}/{}", self.base, mac, state.leaf())
    }

    /// Every camera's alarm events on one exact topic, each with its camera's `mac`: for
    /// automations that watch several cameras. Nothing else in Home Assistant subscribes to it,
    /// so no subscription overlaps it (a wildcard over the per-camera event topics does overlap
    /// the event entities' own, and the broker then delivers each alarm twice, which some Home
    /// Assistant releases, 2025.10 among them, run the automation for twice).
    pub fn alarm_feed(&self) -> String {
        format!("{}/alarms", self.base)
    }

    /// Buttons publish the command's word here; automations may too.
    pub fn command(&self, mac: Mac) -> String {
        format!("{}/{}/command", self.base, mac)
    }

    pub fn command_filter(&self) -> String {
        format!("{}/+/command", self.base)
    }

    /// Reads `<base>/<MAC>/command`.
    pub fn parse_command(&self, topic: &str) -> Option<Result<Mac, MacError>> {
        let rest = topic.strip_prefix(&self.base)?.strip_prefix('/')?;
        let mac = rest.strip_suffix("/command")?;
        Some(mac.parse::<Mac>())
    }

    /// A per-entity config topic: how releases before device discovery announced each entity.
    /// Only migration (and its way back) and the sweep of an earlier run's leftovers use them.
    pub fn config(&self, component: &str, node: &str, object: &str) -> String {
        format!(
            "{}/{component}/{node}/{object}/config",
            self.discovery_prefix
        )
    }

    /// A device's config topic (device-based discovery): one retained message per device.
    pub fn device_config(&self, node: &str) -> String {
        format!("{}/device/{node}/config", self.discovery_prefix)
    }

    pub fn camera_device_config(&self, mac: Mac) -> String {
        self.device_config(&camera_node(mac))
    }

    /// The bridge's own device id, from the base topic so two bridges on one broker do not clash.
    pub fn bridge_node(&self) -> String {
        format!("{}_bridge", sanitize_id(&self.base))
    }

    pub fn bridge_device_config(&self) -> String {
        self.device_config(&self.bridge_node())
    }

    /// Where a camera's entities and triggers were announced one by one, before device
    /// discovery: every topic an earlier release may have left a config on.
    pub fn legacy_camera_configs(&self, mac: Mac) -> Vec<String> {
        let node = camera_node(mac);
        let mut topics: Vec<String> = CameraEntity::ALL
            .into_iter()
            .map(|e| self.config(e.component(), &node, e.key()))
            .collect();
        topics.extend(
            ALARM_TRIGGERS
                .into_iter()
                .map(|k| self.config("device_automation", &node, &payloads::trigger_key(k))),
        );
        // Awake was a binary sensor before it was an enum sensor.
        topics.push(self.config("binary_sensor", &node, "awake"));
        topics
    }

    /// The bridge device's per-entity config topics of earlier releases.
    pub fn legacy_bridge_configs(&self) -> Vec<String> {
        BridgeEntity::all()
            .map(|e| self.config(e.component(), &self.bridge_node(), e.key()))
            .collect()
    }

    /// The state topic of one of the bridge's diagnostic sensors.
    pub fn diagnostic(&self, d: Diagnostic) -> String {
        format!("{}/bridge/{}", self.base, d.key())
    }

    /// `{"message": …}`: the last error whole, beside its state cut to Home Assistant's limit.
    pub fn last_error_attributes(&self) -> String {
        format!("{}/bridge/last_error/attributes", self.base)
    }

    /// `ON` while the bridge is connected to a separate camera broker, `OFF` while it is not.
    pub fn camera_broker(&self) -> String {
        format!("{}/bridge/camera_broker", self.base)
    }

    /// `ON` while the configuration file has errors (the last good one keeps running).
    pub fn config_problem(&self) -> String {
        format!("{}/bridge/config_problem", self.base)
    }

    /// `{"file": …, "errors": […]}` for the problem sensor.
    pub fn config_problem_attributes(&self) -> String {
        format!("{}/bridge/config_problem/attributes", self.base)
    }

    /// Retained device configs under the discovery prefix, where the bridge finds the cameras it
    /// announced in an earlier run (and hears Home Assistant delete one: an empty payload).
    pub fn announced_devices_filter(&self) -> String {
        self.device_config("+")
    }

    /// Retained snapshot-entity configs of releases before device discovery, where the bridge
    /// finds a camera such a release announced and this one does not know.
    pub fn legacy_announced_filter(&self) -> String {
        self.config("camera", "+", CameraEntity::Snapshot.key())
    }

    /// The camera whose device config topic this is (whoever published on it).
    pub fn device_config_camera(&self, topic: &str) -> Option<Mac> {
        let rest = topic
            .strip_prefix(&self.discovery_prefix)?
            .strip_prefix("/device/solarcam_")?;
        rest.strip_suffix("/config")?.parse().ok()
    }

    /// The camera whose legacy snapshot-entity config topic this is.
    pub fn legacy_snapshot_camera(&self, topic: &str) -> Option<Mac> {
        let rest = topic
            .strip_prefix(&self.discovery_prefix)?
            .strip_prefix("/camera/solarcam_")?;
        rest.strip_suffix("/snapshot/config")?.parse().ok()
    }

    /// The camera a retained device config was published for, if this bridge (same origin, same
    /// id scheme, same state topics) published it.
    pub fn announced_camera(&self, topic: &str, payload: &[u8]) -> Option<Mac> {
        let mac = self.device_config_camera(topic)?;
        let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
        let snapshot = &v["components"][CameraEntity::Snapshot.key()];
        let ours = v["origin"]["name"] == ORIGIN.name
            && snapshot["unique_id"] == format!("{}_snapshot", camera_node(mac))
            && snapshot["topic"] == self.state(mac, StateTopic::Snapshot);
        ours.then_some(mac)
    }

    /// The camera a retained per-entity snapshot config of an earlier release was published for,
    /// if that release was this bridge.
    pub fn legacy_announced_camera(&self, topic: &str, payload: &[u8]) -> Option<Mac> {
        let mac = self.legacy_snapshot_camera(topic)?;
        let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
        let ours = v["origin"]["name"] == ORIGIN.name
            && v["unique_id"] == format!("{}_snapshot", camera_node(mac))
            && v["topic"] == self.state(mac, StateTopic::Snapshot);
        ours.then_some(mac)
    }
}

/// The bridge device's own entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEntity {
    Connectivity,
    /// The link to a separate camera broker (`camera_mqtt`); announced only when there is one.
    CameraBroker,
    ConfigProblem,
    /// Diagnostic counters and the last error, each a sensor reading `<base>/bridge/<key>`.
    Diagnostic(Diagnostic),
}

/// A diagnostic sensor of the bridge: a counter, or the last error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    Counter(Counter),
    LastError,
}

impl Diagnostic {
    /// Every diagnostic sensor: the counters, then the last error.
    pub fn all() -> impl Iterator<Item = Diagnostic> {
        Counter::ALL
            .iter()
            .map(|&c| Diagnostic::Counter(c))
            .chain([Diagnostic::LastError])
    }

    pub fn key(self) -> &'static str {
        match self {
            Diagnostic::Counter(c) => c.key(),
            Diagnostic::LastError => "last_error",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Diagnostic::Counter(c) => c.name(),
            Diagnostic::LastError => "Last error",
        }
    }
}

impl BridgeEntity {
    /// Every entity of the bridge's device, in the order they are announced.
    pub fn all() -> impl Iterator<Item = BridgeEntity> {
        [
            BridgeEntity::Connectivity,
            BridgeEntity::CameraBroker,
            BridgeEntity::ConfigProblem,
        ]
        .into_iter()
        .chain(Diagnostic::all().map(BridgeEntity::Diagnostic))
    }

    pub fn key(self) -> &'static str {
        match self {
            BridgeEntity::Connectivity => "connectivity",
            BridgeEntity::CameraBroker => "camera_broker",
            BridgeEntity::ConfigProblem => "config_problem",
            BridgeEntity::Diagnostic(d) => d.key(),
        }
    }

    pub fn component(self) -> &'static str {
        match self {
            BridgeEntity::Diagnostic(_) => "sensor",
            _ => "binary_sensor",
        }
    }
}

/// The Awake sensor's states.
pub const AWAKE: &str = "awake";
pub const ASLEEP: &str = "asleep";

/// The Awake sensor's state.
pub fn awake_word(awake: bool) -> &'static str {
    if awake {
        AWAKE
    } else {
        ASLEEP
    }
}

/// The per-camera state topics, each `<base>/<MAC>/<leaf>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateTopic {
    /// The latest snapshot, raw JPEG bytes, retained.
    Snapshot,
    /// `ON` / `OFF`.
    Alarm,
    /// The last alarm's JSON.
    AlarmAttributes,
    Battery,
    BatteryVoltage,
    Signal,
    /// RFC 3339 time of the last status report.
    LastStatus,
    /// The last status report's JSON, whole.
    Status,
    /// [`AWAKE`] while the camera is awake (heard from within its `awake_timeout`), [`ASLEEP`]
    /// after.
    Awake,
    /// RFC 3339 time of the last message from the camera.
    LastSeen,
    /// How many commands wait for the camera to wake.
    Pending,
    /// `{"commands": […], "last_error": …}`.
    PendingAttributes,
    /// One message per alarm, not retained: `{"event_type": kind, …the alarm's JSON}`.
    AlarmEvent,
    /// The first snapshot after an alarm, raw JPEG bytes, retained.
    AlarmSnapshot,
    /// RFC 3339 time of the camera's last answer on its configuration-respond topic.
    ConfigAnswer,
    /// That answer, as JSON attributes.
    ConfigAnswerAttributes,
}

impl StateTopic {
    pub const ALL: [StateTopic; 16] = [
        StateTopic::Snapshot,
        StateTopic::Alarm,
        StateTopic::AlarmAttributes,
        StateTopic::Battery,
        StateTopic::BatteryVoltage,
        StateTopic::Signal,
        StateTopic::LastStatus,
        StateTopic::Status,
        StateTopic::Awake,
        StateTopic::LastSeen,
        StateTopic::Pending,
        StateTopic::PendingAttributes,
        StateTopic::AlarmEvent,
        StateTopic::AlarmSnapshot,
        StateTopic::ConfigAnswer,
        StateTopic::ConfigAnswerAttributes,
    ];

    /// Kept by the broker (so emptied when a camera is removed). Events are not: an event
    /// replayed at every subscription would be a new alarm each time.
    pub fn retained(self) -> bool {
        self != StateTopic::AlarmEvent
    }

    fn leaf(self) -> &'static str {
        match self {
            StateTopic::Snapshot => "snapshot",
            StateTopic::Alarm => "alarm",
            StateTopic::AlarmAttributes => "alarm/attributes",
            StateTopic::Battery => "battery",
            StateTopic::BatteryVoltage => "battery_voltage",
            StateTopic::Signal => "signal",
            StateTopic::LastStatus => "last_status",
            StateTopic::Status => "status",
            StateTopic::Awake => "awake",
            StateTopic::LastSeen => "last_seen",
            StateTopic::Pending => "pending_commands",
            StateTopic::PendingAttributes => "pending_commands/attributes",
            StateTopic::AlarmEvent => "alarm/event",
            StateTopic::AlarmSnapshot => "alarm/snapshot",
            StateTopic::ConfigAnswer => "config_answer",
            StateTopic::ConfigAnswerAttributes => "config_answer/attributes",
        }
    }
}

/// Every entity a camera can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraEntity {
    Snapshot,
    Alarm,
    AlarmEvent,
    AlarmSnapshot,
    Battery,
    BatteryVoltage,
    Signal,
    LastStatus,
    Awake,
    LastSeen,
    PendingCommands,
    /// The camera's last answer on its configuration-respond topic; announced once one came.
    ConfigAnswer,
    Button(CameraCommand),
}

impl CameraEntity {
    pub const ALL: [CameraEntity; 17] = [
        CameraEntity::Snapshot,
        CameraEntity::Alarm,
        CameraEntity::AlarmEvent,
        CameraEntity::AlarmSnapshot,
        CameraEntity::Battery,
        CameraEntity::BatteryVoltage,
        CameraEntity::Signal,
        CameraEntity::LastStatus,
        CameraEntity::Awake,
        CameraEntity::LastSeen,
        CameraEntity::PendingCommands,
        CameraEntity::ConfigAnswer,
        CameraEntity::Button(CameraCommand::Wake),
        CameraEntity::Button(CameraCommand::Status),
        CameraEntity::Button(CameraCommand::Reboot),
        CameraEntity::Button(CameraCommand::Shutdown),
        CameraEntity::Button(CameraCommand::Upgrade),
    ];

    pub fn component(self) -> &'static str {
        match self {
            CameraEntity::Snapshot => "camera",
            CameraEntity::Alarm => "binary_sensor",
            CameraEntity::AlarmEvent => "event",
            CameraEntity::AlarmSnapshot => "image",
            CameraEntity::Awake
            | CameraEntity::Battery
            | CameraEntity::BatteryVoltage
            | CameraEntity::Signal
            | CameraEntity::LastStatus
            | CameraEntity::LastSeen
            | CameraEntity::PendingCommands
            | CameraEntity::ConfigAnswer => "sensor",
            CameraEntity::Button(_) => "button",
        }
    }

    /// The object id, also the last part of the unique_id.
    pub fn key(self) -> &'static str {
        match self {
            CameraEntity::Snapshot => "snapshot",
            CameraEntity::Alarm => "alarm",
            CameraEntity::AlarmEvent => "alarm_event",
            CameraEntity::AlarmSnapshot => "alarm_snapshot",
            CameraEntity::Battery => "battery",
            CameraEntity::BatteryVoltage => "battery_voltage",
            CameraEntity::Signal => "signal",
            CameraEntity::LastStatus => "last_status",
            CameraEntity::Awake => "awake",
            CameraEntity::LastSeen => "last_seen",
            CameraEntity::PendingCommands => "pending_commands",
            CameraEntity::ConfigAnswer => "config_answer",
            CameraEntity::Button(CameraCommand::Wake) => "wake",
            CameraEntity::Button(CameraCommand::Status) => "request_status",
            CameraEntity::Button(CameraCommand::Reboot) => "reboot",
            CameraEntity::Button(CameraCommand::Shutdown) => "shutdown",
            CameraEntity::Button(CameraCommand::Upgrade) => "upgrade",
        }
    }
}

/// `solarcam_5cc5638ae24c`: the camera's node id and device identifier.
pub fn camera_node(mac: Mac) -> String {
    format!("solarcam_{}", mac.id())
}

/// Keeps `[a-zA-Z0-9_-]`, the only characters Home Assistant takes in node and object ids.
pub fn sanitize_id(s: &str) -> String {
    let id: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if id.trim_matches('_').is_empty() {
        "solarcam".to_string()
    } else {
        id
    }
}

#[cfg(test)]
mod tests;

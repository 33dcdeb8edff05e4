//! Home Assistant MQTT discovery: the topics the bridge uses and the config payloads it sends.
//!
//! Every payload is a serde struct, so the JSON Home Assistant receives is visible field by field
//! here and in one test. Ids come from the MAC (`solarcam_5cc5638ae24c_battery`), so they survive
//! renames and restarts. Names never repeat the device name: Home Assistant prefixes it itself.

use serde::Serialize;

use crate::mac::{Mac, MacError};
use crate::protocol::{AlarmKind, CameraCommand};

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

    pub fn state(&self, mac: Mac, state: State) -> String {
        format!("{}/{}/{}", self.base, mac, state.leaf())
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

    pub fn config(&self, component: &str, node: &str, object: &str) -> String {
        format!(
            "{}/{component}/{node}/{object}/config",
            self.discovery_prefix
        )
    }

    pub fn camera_config(&self, mac: Mac, entity: CameraEntity) -> String {
        self.config(entity.component(), &camera_node(mac), entity.key())
    }

    /// The bridge's own device id, from the base topic so two bridges on one broker do not clash.
    pub fn bridge_node(&self) -> String {
        format!("{}_bridge", sanitize_id(&self.base))
    }

    pub fn bridge_config(&self, entity: BridgeEntity) -> String {
        self.config(entity.component(), &self.bridge_node(), entity.key())
    }

    /// The state topic of one of the bridge's diagnostic sensors.
    pub fn diagnostic(&self, d: Diagnostic) -> String {
        format!("{}/bridge/{}", self.base, d.key())
    }

    /// `ON` while the configuration file has errors (the last good one keeps running).
    pub fn config_problem(&self) -> String {
        format!("{}/bridge/config_problem", self.base)
    }

    /// `{"file": …, "errors": […]}` for the problem sensor.
    pub fn config_problem_attributes(&self) -> String {
        format!("{}/bridge/config_problem/attributes", self.base)
    }

    /// Retained snapshot-entity configs under the discovery prefix, where the bridge finds the
    /// cameras it announced in an earlier run.
    pub fn announced_cameras_filter(&self) -> String {
        self.config("camera", "+", CameraEntity::Snapshot.key())
    }

    /// The camera whose snapshot-entity config topic this is (whoever published on it).
    pub fn snapshot_config_camera(&self, topic: &str) -> Option<Mac> {
        let rest = topic
            .strip_prefix(&self.discovery_prefix)?
            .strip_prefix("/camera/solarcam_")?;
        rest.strip_suffix("/snapshot/config")?.parse().ok()
    }

    /// The camera a retained snapshot-entity config was published for, if this bridge (same
    /// origin, same id scheme, same state topics) published it.
    pub fn announced_camera(&self, topic: &str, payload: &[u8]) -> Option<Mac> {
        let mac = self.snapshot_config_camera(topic)?;
        let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
        let ours = v["origin"]["name"] == ORIGIN.name
            && v["unique_id"] == format!("{}_snapshot", camera_node(mac))
            && v["topic"] == self.state(mac, State::Snapshot);
        ours.then_some(mac)
    }
}

/// The bridge device's own entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEntity {
    Connectivity,
    ConfigProblem,
    /// Diagnostic counters and the last error, each a sensor reading `<base>/bridge/<key>`.
    Diagnostic(Diagnostic),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    Received,
    Published,
    Rejected,
    Unattributed,
    /// Messages from cameras not in the file that were not made into devices (see
    /// `discover_unknown`).
    RefusedCameras,
    Reconnects,
    /// Snapshots the archive could not keep (disk full, read-only…).
    ArchiveFailures,
    LastError,
}

impl Diagnostic {
    pub const ALL: [Diagnostic; 8] = [
        Diagnostic::Received,
        Diagnostic::Published,
        Diagnostic::Rejected,
        Diagnostic::Unattributed,
        Diagnostic::RefusedCameras,
        Diagnostic::Reconnects,
        Diagnostic::ArchiveFailures,
        Diagnostic::LastError,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Diagnostic::Received => "messages_received",
            Diagnostic::Published => "messages_published",
            Diagnostic::Rejected => "payloads_rejected",
            Diagnostic::Unattributed => "payloads_unattributed",
            Diagnostic::RefusedCameras => "unlisted_cameras_refused",
            Diagnostic::Reconnects => "reconnects",
            Diagnostic::ArchiveFailures => "snapshots_not_archived",
            Diagnostic::LastError => "last_error",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Diagnostic::Received => "Messages received",
            Diagnostic::Published => "Messages published",
            Diagnostic::Rejected => "Payloads rejected",
            Diagnostic::Unattributed => "Payloads unattributed",
            Diagnostic::RefusedCameras => "Unlisted cameras refused",
            Diagnostic::Reconnects => "Reconnects",
            Diagnostic::ArchiveFailures => "Snapshots not archived",
            Diagnostic::LastError => "Last error",
        }
    }
}

impl BridgeEntity {
    pub const ALL: [BridgeEntity; 10] = [
        BridgeEntity::Connectivity,
        BridgeEntity::ConfigProblem,
        BridgeEntity::Diagnostic(Diagnostic::Received),
        BridgeEntity::Diagnostic(Diagnostic::Published),
        BridgeEntity::Diagnostic(Diagnostic::Rejected),
        BridgeEntity::Diagnostic(Diagnostic::Unattributed),
        BridgeEntity::Diagnostic(Diagnostic::RefusedCameras),
        BridgeEntity::Diagnostic(Diagnostic::Reconnects),
        BridgeEntity::Diagnostic(Diagnostic::ArchiveFailures),
        BridgeEntity::Diagnostic(Diagnostic::LastError),
    ];

    pub fn key(self) -> &'static str {
        match self {
            BridgeEntity::Connectivity => "connectivity",
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

/// The per-camera state topics, each `<base>/<MAC>/<leaf>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
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
    /// `ON` while the camera is awake (heard from within its `awake_timeout`), `OFF` asleep.
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
}

impl State {
    pub const ALL: [State; 14] = [
        State::Snapshot,
        State::Alarm,
        State::AlarmAttributes,
        State::Battery,
        State::BatteryVoltage,
        State::Signal,
        State::LastStatus,
        State::Status,
        State::Awake,
        State::LastSeen,
        State::Pending,
        State::PendingAttributes,
        State::AlarmEvent,
        State::AlarmSnapshot,
    ];

    /// Kept by the broker (so emptied when a camera is removed). Events are not: an event
    /// replayed at every subscription would be a new alarm each time.
    pub fn retained(self) -> bool {
        self != State::AlarmEvent
    }

    fn leaf(self) -> &'static str {
        match self {
            State::Snapshot => "snapshot",
            State::Alarm => "alarm",
            State::AlarmAttributes => "alarm/attributes",
            State::Battery => "battery",
            State::BatteryVoltage => "battery_voltage",
            State::Signal => "signal",
            State::LastStatus => "last_status",
            State::Status => "status",
            State::Awake => "awake",
            State::LastSeen => "last_seen",
            State::Pending => "pending_commands",
            State::PendingAttributes => "pending_commands/attributes",
            State::AlarmEvent => "alarm/event",
            State::AlarmSnapshot => "alarm/snapshot",
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
    Button(CameraCommand),
}

impl CameraEntity {
    pub const ALL: [CameraEntity; 16] = [
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
            | CameraEntity::PendingCommands => "sensor",
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

// ---------------------------------------------------------------------------------------------
// Payloads.

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Origin {
    pub name: &'static str,
    pub sw_version: &'static str,
}

pub const ORIGIN: Origin = Origin {
    name: "solarcam-bridge",
    sw_version: env!("CARGO_PKG_VERSION"),
};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Device {
    pub identifiers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<[String; 2]>,
    pub name: String,
    pub manufacturer: &'static str,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sw_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_device: Option<String>,
}

/// One entity's discovery config.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntityConfig {
    /// `null` makes the entity the device's main feature, named as the device (the camera).
    pub name: Option<&'static str>,
    pub unique_id: String,
    pub device: Device,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_topic: Option<String>,
    #[serde(flatten)]
    pub platform: Platform,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_by_default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_attributes_topic: Option<String>,
}

/// The keys that differ by platform.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Platform {
    Camera {
        topic: String,
    },
    BinarySensor {
        state_topic: String,
        payload_on: &'static str,
        payload_off: &'static str,
    },
    Sensor {
        state_topic: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        unit_of_measurement: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        state_class: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        suggested_display_precision: Option<u8>,
    },
    Button {
        command_topic: String,
        payload_press: &'static str,
        qos: u8,
        retain: bool,
    },
    Event {
        state_topic: String,
        event_types: Vec<&'static str>,
    },
    Image {
        image_topic: String,
        content_type: &'static str,
    },
    /// A sensor whose state is one of `options` (device class `enum`).
    EnumSensor {
        state_topic: String,
        options: Vec<&'static str>,
    },
}

/// A device trigger's discovery config (`device_automation`): what automations can start on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceTrigger {
    pub automation_type: &'static str,
    pub topic: String,
    #[serde(rename = "type")]
    pub trigger_type: &'static str,
    pub subtype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_template: Option<&'static str>,
    pub device: Device,
    pub origin: Origin,
}

/// The device triggers of a camera: "alarm, any" and one per kind the bridge tells apart.
pub const ALARM_TRIGGERS: [Option<AlarmKind>; 6] = [
    None,
    Some(AlarmKind::Motion),
    Some(AlarmKind::Pir),
    Some(AlarmKind::Person),
    Some(AlarmKind::Vehicle),
    Some(AlarmKind::Tamper),
];

impl Topics {
    /// The config topic of one of a camera's alarm triggers (`None`: any alarm).
    pub fn trigger_config(&self, mac: Mac, kind: Option<AlarmKind>) -> String {
        let object = format!("alarm_{}", kind.map_or("any", AlarmKind::as_str));
        self.config("device_automation", &camera_node(mac), &object)
    }

    /// The device trigger that fires on a camera's alarms, of one kind or (`None`) any.
    pub fn alarm_trigger(&self, cam: &CameraInfo, kind: Option<AlarmKind>) -> DeviceTrigger {
        DeviceTrigger {
            automation_type: "trigger",
            topic: self.state(cam.mac, State::AlarmEvent),
            trigger_type: "alarm",
            subtype: kind.map_or("any", AlarmKind::as_str),
            payload: kind.map(AlarmKind::as_str),
            value_template: kind.map(|_| "{{ value_json.event_type }}"),
            device: self.camera_device(cam),
            origin: ORIGIN,
        }
    }

    /// Where the Awake entity's discovery config stood when it was a binary sensor: emptied at
    /// each announcement, so that entity does not linger beside the sensor that replaced it.
    pub fn legacy_awake_config(&self, mac: Mac) -> String {
        self.config("binary_sensor", &camera_node(mac), "awake")
    }
}

/// What discovery needs to know about one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraInfo<'a> {
    pub mac: Mac,
    pub name: &'a str,
    pub area: Option<&'a str>,
    pub model: Option<&'a str>,
    pub sw_version: Option<&'a str>,
}

impl Topics {
    pub fn camera_device(&self, cam: &CameraInfo) -> Device {
        Device {
            identifiers: vec![camera_node(cam.mac)],
            connections: vec![["mac".to_string(), cam.mac.colon_lower()]],
            name: cam.name.to_string(),
            manufacturer: "Milesight",
            model: cam.model.unwrap_or("SC211").to_string(),
            sw_version: cam.sw_version.map(str::to_string),
            suggested_area: cam.area.map(str::to_string),
            via_device: Some(self.bridge_node()),
        }
    }

    /// The discovery config of one of a camera's entities.
    pub fn camera_entity(&self, cam: &CameraInfo, entity: CameraEntity) -> EntityConfig {
        let mac = cam.mac;
        let state = |s| self.state(mac, s);
        let sensor = |s, unit, class| Platform::Sensor {
            state_topic: state(s),
            unit_of_measurement: Some(unit),
            state_class: class,
            suggested_display_precision: None,
        };
        let mut e = EntityConfig {
            name: None,
            unique_id: format!("{}_{}", camera_node(mac), entity.key()),
            device: self.camera_device(cam),
            origin: ORIGIN,
            availability_topic: Some(self.availability()),
            platform: Platform::Camera {
                topic: state(State::Snapshot),
            },
            device_class: None,
            entity_category: None,
            icon: None,
            enabled_by_default: None,
            json_attributes_topic: None,
        };
        match entity {
            CameraEntity::Snapshot => {}
            CameraEntity::AlarmEvent => {
                e.name = Some("Alarm event");
                e.platform = Platform::Event {
                    state_topic: state(State::AlarmEvent),
                    event_types: AlarmKind::ALL.iter().map(|k| k.as_str()).collect(),
                };
                e.device_class = Some("motion");
            }
            CameraEntity::AlarmSnapshot => {
                e.name = Some("Last alarm snapshot");
                e.platform = Platform::Image {
                    image_topic: state(State::AlarmSnapshot),
                    content_type: "image/jpeg",
                };
            }
            CameraEntity::Alarm => {
                e.name = Some("Alarm");
                e.platform = Platform::BinarySensor {
                    state_topic: state(State::Alarm),
                    payload_on: "ON",
                    payload_off: "OFF",
                };
                e.device_class = Some("motion");
                e.json_attributes_topic = Some(state(State::AlarmAttributes));
            }
            CameraEntity::Battery => {
                e.name = Some("Battery");
                e.platform = sensor(State::Battery, "%", Some("measurement"));
                e.device_class = Some("battery");
                e.json_attributes_topic = Some(state(State::Status));
            }
            CameraEntity::BatteryVoltage => {
                e.name = Some("Battery voltage");
                e.platform = Platform::Sensor {
                    state_topic: state(State::BatteryVoltage),
                    unit_of_measurement: Some("V"),
                    state_class: Some("measurement"),
                    suggested_display_precision: Some(2),
                };
                e.device_class = Some("voltage");
                e.entity_category = Some("diagnostic");
            }
            CameraEntity::Signal => {
                e.name = Some("Signal strength");
                e.platform = sensor(State::Signal, "dBm", Some("measurement"));
                e.device_class = Some("signal_strength");
                e.entity_category = Some("diagnostic");
            }
            CameraEntity::LastStatus => {
                e.name = Some("Last status");
                e.platform = Platform::Sensor {
                    state_topic: state(State::LastStatus),
                    unit_of_measurement: None,
                    state_class: None,
                    suggested_display_precision: None,
                };
                e.device_class = Some("timestamp");
                e.entity_category = Some("diagnostic");
                e.json_attributes_topic = Some(state(State::Status));
            }
            CameraEntity::Awake => {
                // Reads "awake" / "asleep"; a binary sensor would say "Connected" or "On".
                e.name = Some("Awake");
                e.platform = Platform::EnumSensor {
                    state_topic: state(State::Awake),
                    options: vec![AWAKE, ASLEEP],
                };
                e.device_class = Some("enum");
                e.entity_category = Some("diagnostic");
                e.icon = Some("mdi:sleep");
            }
            CameraEntity::LastSeen => {
                e.name = Some("Last seen");
                e.platform = Platform::Sensor {
                    state_topic: state(State::LastSeen),
                    unit_of_measurement: None,
                    state_class: None,
                    suggested_display_precision: None,
                };
                e.device_class = Some("timestamp");
                e.entity_category = Some("diagnostic");
                // It changes with every message: enabled, it fills the logbook and history
                // (zigbee2mqtt keeps its "last seen" disabled too). "Last status" stays on.
                e.enabled_by_default = Some(false);
            }
            CameraEntity::PendingCommands => {
                e.name = Some("Pending commands");
                e.platform = Platform::Sensor {
                    state_topic: state(State::Pending),
                    unit_of_measurement: None,
                    state_class: Some("measurement"),
                    suggested_display_precision: None,
                };
                e.entity_category = Some("diagnostic");
                e.icon = Some("mdi:tray-full");
                e.json_attributes_topic = Some(state(State::PendingAttributes));
            }
            CameraEntity::Button(cmd) => {
                e.platform = Platform::Button {
                    command_topic: self.command(mac),
                    payload_press: cmd.payload(),
                    qos: 1,
                    retain: false,
                };
                let (name, class, category, icon, enabled) = match cmd {
                    CameraCommand::Wake => ("Wake", None, None, Some("mdi:sleep-off"), None),
                    CameraCommand::Status => {
                        ("Request status", None, None, Some("mdi:refresh"), None)
                    }
                    CameraCommand::Reboot => {
                        ("Reboot", Some("restart"), Some("config"), None, None)
                    }
                    CameraCommand::Shutdown => (
                        "Shut down",
                        None,
                        Some("config"),
                        Some("mdi:power"),
                        Some(false),
                    ),
                    CameraCommand::Upgrade => (
                        "Firmware upgrade",
                        Some("update"),
                        Some("config"),
                        None,
                        Some(false),
                    ),
                };
                e.name = Some(name);
                e.device_class = class;
                e.entity_category = category;
                e.icon = icon;
                e.enabled_by_default = enabled;
            }
        }
        e
    }

    /// The bridge's own device and its entities. Connectivity reads the availability topic, so it
    /// must not itself depend on it.
    pub fn bridge_entity(&self, entity: BridgeEntity) -> EntityConfig {
        let node = self.bridge_node();
        let mut e = EntityConfig {
            name: Some("Connectivity"),
            unique_id: format!("{node}_{}", entity.key()),
            device: Device {
                identifiers: vec![node],
                connections: Vec::new(),
                name: "SolarCam Bridge".to_string(),
                manufacturer: "solarcam-bridge",
                model: "SC211 MQTT bridge".to_string(),
                sw_version: Some(env!("CARGO_PKG_VERSION").to_string()),
                suggested_area: None,
                via_device: None,
            },
            origin: ORIGIN,
            availability_topic: None,
            platform: Platform::BinarySensor {
                state_topic: self.availability(),
                payload_on: "online",
                payload_off: "offline",
            },
            device_class: Some("connectivity"),
            entity_category: Some("diagnostic"),
            icon: None,
            enabled_by_default: None,
            json_attributes_topic: None,
        };
        if let BridgeEntity::Diagnostic(d) = entity {
            e.name = Some(d.name());
            e.availability_topic = Some(self.availability());
            let counter = d != Diagnostic::LastError;
            e.platform = Platform::Sensor {
                state_topic: self.diagnostic(d),
                unit_of_measurement: None,
                // Counters only grow (a restart starts them again).
                state_class: counter.then_some("total_increasing"),
                suggested_display_precision: None,
            };
            e.device_class = None;
            e.icon = Some(if counter {
                "mdi:counter"
            } else {
                "mdi:alert-circle-outline"
            });
        }
        if entity == BridgeEntity::ConfigProblem {
            e.name = Some("Configuration problem");
            e.availability_topic = Some(self.availability());
            e.platform = Platform::BinarySensor {
                state_topic: self.config_problem(),
                payload_on: "ON",
                payload_off: "OFF",
            };
            e.device_class = Some("problem");
            e.json_attributes_topic = Some(self.config_problem_attributes());
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn topics() -> Topics {
        Topics {
            discovery_prefix: "homeassistant".into(),
            base: "solarcam".into(),
        }
    }

    fn cam() -> CameraInfo<'static> {
        CameraInfo {
            mac: "5CC5638AE24C".parse().unwrap(),
            name: "Driveway",
            area: Some("Garden"),
            model: None,
            sw_version: Some("V1.2"),
        }
    }

    #[test]
    fn camera_entity_json_is_exactly_what_home_assistant_gets() {
        let t = topics();
        let json = serde_json::to_value(t.camera_entity(&cam(), CameraEntity::Snapshot)).unwrap();
        assert_eq!(
            json,
            json!({
                "name": null,
                "unique_id": "solarcam_5cc5638ae24c_snapshot",
                "device": {
                    "identifiers": ["solarcam_5cc5638ae24c"],
                    "connections": [["mac", "5c:c5:63:8a:e2:4c"]],
                    "name": "Driveway",
                    "manufacturer": "Milesight",
                    "model": "SC211",
                    "sw_version": "V1.2",
                    "suggested_area": "Garden",
                    "via_device": "solarcam_bridge"
                },
                "origin": {
                    "name": "solarcam-bridge",
                    "sw_version": env!("CARGO_PKG_VERSION")
                },
                "availability_topic": "solarcam/bridge/availability",
                "topic": "solarcam/5CC5638AE24C/snapshot"
            })
        );
        assert_eq!(
            t.camera_config(cam().mac, CameraEntity::Snapshot),
            "homeassistant/camera/solarcam_5cc5638ae24c/snapshot/config"
        );
    }

    #[test]
    fn buttons_carry_the_camera_command_and_risky_ones_start_disabled() {
        let t = topics();
        let reboot = serde_json::to_value(
            t.camera_entity(&cam(), CameraEntity::Button(CameraCommand::Reboot)),
        )
        .unwrap();
        assert_eq!(reboot["command_topic"], "solarcam/5CC5638AE24C/command");
        assert_eq!(reboot["payload_press"], "reboot");
        assert_eq!(reboot["device_class"], "restart");
        assert_eq!(reboot["retain"], false);
        assert!(reboot.get("enabled_by_default").is_none());
        for cmd in [CameraCommand::Shutdown, CameraCommand::Upgrade] {
            let v =
                serde_json::to_value(t.camera_entity(&cam(), CameraEntity::Button(cmd))).unwrap();
            assert_eq!(v["enabled_by_default"], false, "{cmd}");
        }
    }

    #[test]
    fn every_id_is_valid_and_no_name_repeats_the_device_name() {
        let t = topics();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let mut ids = std::collections::HashSet::new();
        for entity in CameraEntity::ALL {
            let e = t.camera_entity(&cam(), entity);
            assert!(ids.insert(e.unique_id.clone()), "duplicate {}", e.unique_id);
            let topic = t.camera_config(cam().mac, entity);
            let parts: Vec<&str> = topic.split('/').collect();
            assert_eq!(parts.len(), 5, "{topic}");
            assert!(valid(parts[2]) && valid(parts[3]), "{topic}");
            if let Some(name) = e.name {
                assert!(!name.starts_with("Driveway"), "{name}");
            }
        }
    }

    #[test]
    fn command_topics_round_trip() {
        let t = topics();
        let mac = cam().mac;
        assert_eq!(t.parse_command(&t.command(mac)), Some(Ok(mac)));
        assert!(matches!(
            t.parse_command("solarcam/nope/command"),
            Some(Err(_))
        ));
        assert_eq!(t.parse_command("solarcam/5CC5638AE24C/snapshot"), None);
    }

    #[test]
    fn ids_are_sanitized() {
        assert_eq!(sanitize_id("Solar Cam/#1"), "solar_cam__1");
        assert_eq!(sanitize_id("///"), "solarcam");
        assert_eq!(sanitize_id("Gartenhäuschen"), "gartenh_uschen");
    }
}

//! The discovery payloads: one serde struct per kind of config, and each entity's fields in one
//! literal, so the JSON Home Assistant receives can be read here field by field. The topics they
//! name come from [`Topics`].
//!
//! Each device (a camera, the bridge) is one [`DeviceConfig`]: Home Assistant's device-based
//! discovery (2024.11 and later), with the device and origin given once and every entity and
//! device trigger a [`Component`] of it, keyed by the object id it had as a config of its own.

use std::collections::BTreeMap;

use serde::Serialize;

use super::entity_id::default_entity_id;
use super::{
    camera_node, BridgeEntity, CameraEntity, Diagnostic, StateTopic, Topics, ASLEEP, AWAKE,
};
use crate::mac::Mac;
use crate::protocol::{AlarmKind, CameraCommand};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Origin {
    pub name: &'static str,
    pub sw_version: &'static str,
    /// Where Home Assistant's MQTT info and device pages send a user for help.
    pub support_url: &'static str,
}

pub const ORIGIN: Origin = Origin {
    name: "solarcam-bridge",
    sw_version: env!("CARGO_PKG_VERSION"),
    support_url: env!("CARGO_PKG_REPOSITORY"),
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

/// One device's discovery config, on `<prefix>/device/<node>/config`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceConfig {
    pub device: Device,
    pub origin: Origin,
    /// Every component follows it (a camera's). The bridge's own device gives it per component
    /// instead: its Connectivity sensor reads that topic and must not depend on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_topic: Option<String>,
    /// By object id: the key each had as a config of its own, so that Home Assistant's discovery
    /// ids, and with them the entities, stay what they were.
    pub components: BTreeMap<String, Component>,
}

/// An entity or a device trigger, as a component of its device.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Component {
    Entity(EntityConfig),
    Trigger(DeviceTrigger),
    /// A component taken away: its platform alone. Home Assistant removes a component so, not
    /// when it is left out of the device config (that leaves it as it was).
    Removed {
        platform: &'static str,
    },
}

/// One entity of a device.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntityConfig {
    /// Its kind (`sensor`, `camera`...).
    pub platform: &'static str,
    /// `null` makes the entity the device's main feature, named as the device (the camera).
    pub name: Option<&'static str>,
    pub unique_id: String,
    /// The id a new entity gets on every Home Assistant release ([`super::entity_id`]).
    pub default_entity_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_topic: Option<String>,
    #[serde(flatten)]
    pub kind: Platform,
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
    /// Given for each component: a device-level `qos` is ignored before Home Assistant 2026.6.
    pub qos: u8,
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

/// A device trigger (`device_automation`): what automations can start on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeviceTrigger {
    pub platform: &'static str,
    pub automation_type: &'static str,
    pub topic: String,
    #[serde(rename = "type")]
    pub trigger_type: &'static str,
    pub subtype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_template: Option<&'static str>,
    pub qos: u8,
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

/// What discovery needs to know about one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraInfo<'a> {
    pub mac: Mac,
    pub name: &'a str,
    pub area: Option<&'a str>,
    pub model: Option<&'a str>,
    pub sw_version: Option<&'a str>,
}

/// The device of one camera.
pub fn camera_device(topics: &Topics, cam: &CameraInfo) -> Device {
    Device {
        identifiers: vec![camera_node(cam.mac)],
        connections: vec![["mac".to_string(), cam.mac.colon_lower()]],
        name: cam.name.to_string(),
        manufacturer: "Milesight",
        model: cam.model.unwrap_or("SC211").to_string(),
        sw_version: cam.sw_version.map(str::to_string),
        suggested_area: cam.area.map(str::to_string),
        via_device: Some(topics.bridge_node()),
    }
}

/// The device trigger that fires on a camera's alarms, of one kind or (`None`) any.
pub fn alarm_trigger(topics: &Topics, cam: &CameraInfo, kind: Option<AlarmKind>) -> DeviceTrigger {
    DeviceTrigger {
        platform: "device_automation",
        automation_type: "trigger",
        topic: topics.state(cam.mac, StateTopic::AlarmEvent),
        trigger_type: "alarm",
        subtype: kind.map_or("any", AlarmKind::as_str),
        payload: kind.map(AlarmKind::as_str),
        value_template: kind.map(|_| "{{ value_json.event_type }}"),
        qos: 0,
    }
}

/// A camera's device config: the entities it has (`entities`), and its alarm triggers.
pub fn camera_device_config(
    topics: &Topics,
    cam: &CameraInfo,
    entities: impl Iterator<Item = CameraEntity>,
) -> DeviceConfig {
    let mut components: BTreeMap<String, Component> = entities
        .map(|e| {
            let entity = camera_entity(topics, cam, e);
            (e.key().to_string(), Component::Entity(entity))
        })
        .collect();
    for kind in ALARM_TRIGGERS {
        components.insert(
            trigger_key(kind),
            Component::Trigger(alarm_trigger(topics, cam, kind)),
        );
    }
    DeviceConfig {
        device: camera_device(topics, cam),
        origin: ORIGIN,
        availability_topic: Some(topics.availability()),
        components,
    }
}

/// The object id of a camera's alarm trigger (`None`: any alarm).
pub fn trigger_key(kind: Option<AlarmKind>) -> String {
    format!("alarm_{}", kind.map_or("any", AlarmKind::as_str))
}

/// The bridge's own device config, with `entities`; `removed` are taken away.
pub fn bridge_device_config(
    topics: &Topics,
    entities: impl Iterator<Item = BridgeEntity>,
    removed: &[BridgeEntity],
) -> DeviceConfig {
    let mut components: BTreeMap<String, Component> = entities
        .map(|e| {
            (
                e.key().to_string(),
                Component::Entity(bridge_entity(topics, e)),
            )
        })
        .collect();
    for e in removed {
        let platform = e.component();
        components.insert(e.key().to_string(), Component::Removed { platform });
    }
    DeviceConfig {
        device: bridge_device(topics),
        origin: ORIGIN,
        availability_topic: None,
        components,
    }
}

fn bridge_device(topics: &Topics) -> Device {
    Device {
        identifiers: vec![topics.bridge_node()],
        connections: Vec::new(),
        name: "SolarCam Bridge".to_string(),
        manufacturer: "solarcam-bridge",
        model: "SC211 MQTT bridge".to_string(),
        sw_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        suggested_area: None,
        via_device: None,
    }
}

/// What sets an entity apart; the ids, device, origin and availability are added around it.
struct Spec {
    name: Option<&'static str>,
    platform: Platform,
    device_class: Option<&'static str>,
    entity_category: Option<&'static str>,
    icon: Option<&'static str>,
    enabled_by_default: Option<bool>,
    json_attributes_topic: Option<String>,
}

/// An entity with a name and a platform, and nothing else yet.
fn spec(name: Option<&'static str>, platform: Platform) -> Spec {
    Spec {
        name,
        platform,
        device_class: None,
        entity_category: None,
        icon: None,
        enabled_by_default: None,
        json_attributes_topic: None,
    }
}

fn sensor(
    state_topic: String,
    unit: Option<&'static str>,
    state_class: Option<&'static str>,
) -> Platform {
    Platform::Sensor {
        state_topic,
        unit_of_measurement: unit,
        state_class,
        suggested_display_precision: None,
    }
}

fn on_off(state_topic: String, on: &'static str, off: &'static str) -> Platform {
    Platform::BinarySensor {
        state_topic,
        payload_on: on,
        payload_off: off,
    }
}

const DIAGNOSTIC: Option<&str> = Some("diagnostic");
const CONFIG: Option<&str> = Some("config");

/// The discovery config of one of a camera's entities.
pub fn camera_entity(topics: &Topics, cam: &CameraInfo, entity: CameraEntity) -> EntityConfig {
    let mac = cam.mac;
    let state = |s| topics.state(mac, s);
    let s = match entity {
        CameraEntity::Snapshot => spec(
            None,
            Platform::Camera {
                topic: state(StateTopic::Snapshot),
            },
        ),
        CameraEntity::AlarmEvent => Spec {
            device_class: Some("motion"),
            ..spec(
                Some("Alarm event"),
                Platform::Event {
                    state_topic: state(StateTopic::AlarmEvent),
                    event_types: AlarmKind::ALL.iter().map(|k| k.as_str()).collect(),
                },
            )
        },
        CameraEntity::AlarmSnapshot => spec(
            Some("Last alarm snapshot"),
            Platform::Image {
                image_topic: state(StateTopic::AlarmSnapshot),
                content_type: "image/jpeg",
            },
        ),
        CameraEntity::Alarm => Spec {
            device_class: Some("motion"),
            json_attributes_topic: Some(state(StateTopic::AlarmAttributes)),
            ..spec(Some("Alarm"), on_off(state(StateTopic::Alarm), "ON", "OFF"))
        },
        CameraEntity::Battery => Spec {
            device_class: Some("battery"),
            json_attributes_topic: Some(state(StateTopic::Status)),
            ..spec(
                Some("Battery"),
                sensor(state(StateTopic::Battery), Some("%"), Some("measurement")),
            )
        },
        CameraEntity::BatteryVoltage => Spec {
            device_class: Some("voltage"),
            entity_category: DIAGNOSTIC,
            ..spec(
                Some("Battery voltage"),
                Platform::Sensor {
                    state_topic: state(StateTopic::BatteryVoltage),
                    unit_of_measurement: Some("V"),
                    state_class: Some("measurement"),
                    suggested_display_precision: Some(2),
                },
            )
        },
        CameraEntity::Signal => Spec {
            device_class: Some("signal_strength"),
            entity_category: DIAGNOSTIC,
            ..spec(
                Some("Signal strength"),
                sensor(state(StateTopic::Signal), Some("dBm"), Some("measurement")),
            )
        },
        CameraEntity::LastStatus => Spec {
            device_class: Some("timestamp"),
            entity_category: DIAGNOSTIC,
            json_attributes_topic: Some(state(StateTopic::Status)),
            ..spec(
                Some("Last status"),
                sensor(state(StateTopic::LastStatus), None, None),
            )
        },
        // What the camera answered on its configuration-respond topic, whole, as attributes:
        // its payloads are not published, so they are shown, never interpreted.
        CameraEntity::ConfigAnswer => Spec {
            device_class: Some("timestamp"),
            entity_category: DIAGNOSTIC,
            icon: Some("mdi:cog-transfer"),
            json_attributes_topic: Some(state(StateTopic::ConfigAnswerAttributes)),
            ..spec(
                Some("Configuration answer"),
                sensor(state(StateTopic::ConfigAnswer), None, None),
            )
        },
        // Reads "awake" / "asleep"; a binary sensor would say "Connected" or "On".
        CameraEntity::Awake => Spec {
            device_class: Some("enum"),
            entity_category: DIAGNOSTIC,
            icon: Some("mdi:sleep"),
            ..spec(
                Some("Awake"),
                Platform::EnumSensor {
                    state_topic: state(StateTopic::Awake),
                    options: vec![AWAKE, ASLEEP],
                },
            )
        },
        // It changes with every message: enabled, it fills the logbook and history (zigbee2mqtt
        // keeps its "last seen" disabled too). "Last status" stays on.
        CameraEntity::LastSeen => Spec {
            device_class: Some("timestamp"),
            entity_category: DIAGNOSTIC,
            enabled_by_default: Some(false),
            ..spec(
                Some("Last seen"),
                sensor(state(StateTopic::LastSeen), None, None),
            )
        },
        CameraEntity::PendingCommands => Spec {
            entity_category: DIAGNOSTIC,
            icon: Some("mdi:tray-full"),
            json_attributes_topic: Some(state(StateTopic::PendingAttributes)),
            ..spec(
                Some("Pending commands"),
                sensor(state(StateTopic::Pending), None, Some("measurement")),
            )
        },
        CameraEntity::Button(cmd) => {
            let press = Platform::Button {
                command_topic: topics.command(mac),
                payload_press: cmd.payload(),
                retain: false,
            };
            match cmd {
                CameraCommand::Wake => Spec {
                    icon: Some("mdi:sleep-off"),
                    ..spec(Some("Wake"), press)
                },
                CameraCommand::Status => Spec {
                    icon: Some("mdi:refresh"),
                    ..spec(Some("Request status"), press)
                },
                CameraCommand::Reboot => Spec {
                    device_class: Some("restart"),
                    entity_category: CONFIG,
                    ..spec(Some("Reboot"), press)
                },
                CameraCommand::Shutdown => Spec {
                    entity_category: CONFIG,
                    icon: Some("mdi:power"),
                    enabled_by_default: Some(false),
                    ..spec(Some("Shut down"), press)
                },
                CameraCommand::Upgrade => Spec {
                    device_class: Some("update"),
                    entity_category: CONFIG,
                    enabled_by_default: Some(false),
                    ..spec(Some("Firmware upgrade"), press)
                },
            }
        }
    };
    // The device config gives the availability once, for all of a camera's components.
    entity_config(
        s,
        entity.component(),
        format!("{}_{}", camera_node(mac), entity.key()),
        cam.name,
        None,
    )
}

/// The bridge's own device and its entities. Connectivity reads the availability topic, so it
/// must not itself depend on it.
pub fn bridge_entity(topics: &Topics, entity: BridgeEntity) -> EntityConfig {
    let node = topics.bridge_node();
    let device = bridge_device(topics);
    let (s, availability) = match entity {
        BridgeEntity::Connectivity => (
            Spec {
                device_class: Some("connectivity"),
                entity_category: DIAGNOSTIC,
                ..spec(
                    Some("Connectivity"),
                    on_off(topics.availability(), "online", "offline"),
                )
            },
            None,
        ),
        BridgeEntity::CameraBroker => (
            Spec {
                device_class: Some("connectivity"),
                entity_category: DIAGNOSTIC,
                ..spec(
                    Some("Camera broker"),
                    on_off(topics.camera_broker(), "ON", "OFF"),
                )
            },
            Some(topics.availability()),
        ),
        BridgeEntity::ConfigProblem => (
            Spec {
                device_class: Some("problem"),
                entity_category: DIAGNOSTIC,
                json_attributes_topic: Some(topics.config_problem_attributes()),
                ..spec(
                    Some("Configuration problem"),
                    on_off(topics.config_problem(), "ON", "OFF"),
                )
            },
            Some(topics.availability()),
        ),
        BridgeEntity::Diagnostic(d) => {
            let counter = d != Diagnostic::LastError;
            (
                Spec {
                    entity_category: DIAGNOSTIC,
                    icon: Some(if counter {
                        "mdi:counter"
                    } else {
                        "mdi:alert-circle-outline"
                    }),
                    // The state is cut to what Home Assistant holds (255 characters); the whole
                    // message is an attribute.
                    json_attributes_topic: (!counter).then(|| topics.last_error_attributes()),
                    // Counters only grow (a restart starts them again).
                    ..spec(
                        Some(d.name()),
                        sensor(
                            topics.diagnostic(d),
                            None,
                            counter.then_some("total_increasing"),
                        ),
                    )
                },
                Some(topics.availability()),
            )
        }
    };
    entity_config(
        s,
        entity.component(),
        format!("{node}_{}", entity.key()),
        &device.name,
        availability,
    )
}

fn entity_config(
    s: Spec,
    component: &'static str,
    unique_id: String,
    device_name: &str,
    availability_topic: Option<String>,
) -> EntityConfig {
    // Buttons publish their presses at QoS 1; the rest subscribe at Home Assistant's default.
    let qos = u8::from(matches!(s.platform, Platform::Button { .. }));
    EntityConfig {
        platform: component,
        name: s.name,
        unique_id,
        default_entity_id: default_entity_id(component, device_name, s.name),
        availability_topic,
        qos,
        kind: s.platform,
        device_class: s.device_class,
        entity_category: s.entity_category,
        icon: s.icon,
        enabled_by_default: s.enabled_by_default,
        json_attributes_topic: s.json_attributes_topic,
    }
}

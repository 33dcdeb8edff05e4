//! The discovery payloads: one serde struct per kind of config, so the JSON Home Assistant
//! receives can be read here field by field, and the device configs built from them. Each
//! entity's own fields are in the entity table ([`super::entities`]); the topics they name come
//! from [`Topics`].
//!
//! Each device (a camera, the bridge) is one [`DeviceConfig`]: Home Assistant's device-based
//! discovery (2024.11 and later), with the device and origin given once and every entity and
//! device trigger a [`Component`] of it, keyed by the object id it had as a config of its own.

use std::collections::BTreeMap;

use serde::Serialize;

use super::entities::{bridge_entity, camera_entity};
use super::{camera_node, BridgeEntity, CameraEntity, StateTopic, Topics};
use crate::mac::Mac;
use crate::protocol::AlarmKind;

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

pub(super) fn bridge_device(topics: &Topics) -> Device {
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

//! The entity table: every entity of a camera and of the bridge, each in one literal of its
//! fields, so that what Home Assistant is told about an entity can be read in one place.

use super::entity_id::default_entity_id;
use super::payloads::{bridge_device, CameraInfo, EntityConfig, Platform};
use super::{
    camera_node, BridgeEntity, CameraEntity, Diagnostic, StateTopic, Topics, ASLEEP, AWAKE,
};
use crate::protocol::{AlarmKind, CameraCommand};

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
#[expect(
    clippy::too_many_lines,
    reason = "the discovery table: one literal per entity, read as a table, not as steps"
)]
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

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
    let json = serde_json::to_value(camera_entity(&t, &cam(), CameraEntity::Snapshot)).unwrap();
    assert_eq!(
        json,
        json!({
            "platform": "camera",
            "name": null,
            "unique_id": "solarcam_5cc5638ae24c_snapshot",
            "default_entity_id": "camera.driveway",
            "topic": "solarcam/5CC5638AE24C/snapshot",
            "qos": 0
        })
    );
}

#[test]
fn a_camera_is_one_device_config_with_the_device_origin_and_availability_once() {
    let t = topics();
    let config = camera_device_config(&t, &cam(), CameraEntity::ALL.into_iter());
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(
        json["device"],
        json!({
            "identifiers": ["solarcam_5cc5638ae24c"],
            "connections": [["mac", "5c:c5:63:8a:e2:4c"]],
            "name": "Driveway",
            "manufacturer": "Milesight",
            "model": "SC211",
            "sw_version": "V1.2",
            "suggested_area": "Garden",
            "via_device": "solarcam_bridge"
        })
    );
    assert_eq!(
        json["origin"],
        json!({
            "name": "solarcam-bridge",
            "sw_version": env!("CARGO_PKG_VERSION"),
            "support_url": "https://github.com/solarcam-bridge/solarcam-bridge"
        })
    );
    assert_eq!(json["availability_topic"], "solarcam/bridge/availability");
    assert_eq!(
        t.camera_device_config(cam().mac),
        "homeassistant/device/solarcam_5cc5638ae24c/config"
    );
    let components = json["components"].as_object().unwrap();
    // 17 entities and 6 triggers, each keyed by the object id of its old per-entity topic
    // (which keeps Home Assistant's discovery ids, and with them the entities).
    assert_eq!(components.len(), 23);
    for e in CameraEntity::ALL {
        let c = &components[e.key()];
        assert_eq!(c["platform"], e.component(), "{}", e.key());
        assert!(c.get("device").is_none() && c.get("origin").is_none());
        assert!(c["qos"].is_u64(), "{}: qos per component", e.key());
        let legacy = t.config(e.component(), "solarcam_5cc5638ae24c", e.key());
        assert!(t.legacy_camera_configs(cam().mac).contains(&legacy));
    }
    assert_eq!(components["alarm_pir"]["platform"], "device_automation");
    assert_eq!(components["alarm_pir"]["subtype"], "pir");
    assert_eq!(components["wake"]["qos"], 1);
    assert_eq!(components["battery"]["qos"], 0);
}

#[test]
fn the_largest_device_config_fits_the_smallest_broker_limit_with_room() {
    // rumqttd as shipped takes 20 KB; the longest camera name, every component and a model
    // and firmware string as long as a snapshot's devName may be.
    let t = topics();
    let name = "Gartenhäuschen am hinteren Ende des Grundstücks, Nordseite".repeat(2);
    let long = "X".repeat(64);
    let info = CameraInfo {
        mac: "5CC5638AE24C".parse().unwrap(),
        name: &name,
        area: Some("Garten hinter dem Haus"),
        model: Some(&long),
        sw_version: Some(&long),
    };
    let config = camera_device_config(&t, &info, CameraEntity::ALL.into_iter());
    let size = serde_json::to_vec(&config).unwrap().len();
    assert!(size < 12 * 1024, "{size} bytes");
    let bridge = bridge_device_config(&t, BridgeEntity::all(), &[]);
    assert!(serde_json::to_vec(&bridge).unwrap().len() < 8 * 1024);
}

#[test]
fn buttons_carry_the_camera_command_and_risky_ones_start_disabled() {
    let t = topics();
    let reboot = serde_json::to_value(camera_entity(
        &t,
        &cam(),
        CameraEntity::Button(CameraCommand::Reboot),
    ))
    .unwrap();
    assert_eq!(reboot["command_topic"], "solarcam/5CC5638AE24C/command");
    assert_eq!(reboot["payload_press"], "reboot");
    assert_eq!(reboot["device_class"], "restart");
    assert_eq!(reboot["retain"], false);
    assert!(reboot.get("enabled_by_default").is_none());
    for cmd in [CameraCommand::Shutdown, CameraCommand::Upgrade] {
        let v = serde_json::to_value(camera_entity(&t, &cam(), CameraEntity::Button(cmd))).unwrap();
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
        let e = camera_entity(&t, &cam(), entity);
        assert!(ids.insert(e.unique_id.clone()), "duplicate {}", e.unique_id);
        assert!(
            ids.insert(e.default_entity_id.clone()),
            "duplicate {}",
            e.default_entity_id
        );
        let (domain, object_id) = e.default_entity_id.split_once('.').unwrap();
        assert_eq!(domain, entity.component());
        assert!(object_id.starts_with("driveway"), "{object_id}");
        let topic = t.camera_device_config(cam().mac);
        let parts: Vec<&str> = topic.split('/').collect();
        assert_eq!(parts.len(), 4, "{topic}");
        assert!(valid(parts[2]) && valid(entity.key()), "{topic}");
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

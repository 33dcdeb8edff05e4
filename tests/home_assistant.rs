//! End to end against a real Mosquitto: cameras appear in Home Assistant, their messages become
//! states, buttons become camera commands, bad input is logged and survived.

mod common;

use common::*;
use serde_json::json;

/// Each entity and device trigger of Driveway and the bridge, as the config Home Assistant must
/// receive for it (what releases before device discovery published on
/// `homeassistant/<path>/config`), keyed by that path.
#[expect(
    clippy::too_many_lines,
    reason = "the discovery table as Home Assistant must receive it, one literal per entity"
)]
fn discovery_table() -> Vec<(&'static str, serde_json::Value)> {
    let node = "solarcam_5cc5638ae24c";
    let device = json!({
        "identifiers": [node],
        "connections": [["mac", "5c:c5:63:8a:e2:4c"]],
        "name": "Driveway",
        "manufacturer": "Milesight",
        "model": "SC211",
        "suggested_area": "Garden",
        "via_device": "solarcam_bridge"
    });
    let origin = json!({
        "name": "solarcam-bridge",
        "sw_version": env!("CARGO_PKG_VERSION"),
        "support_url": "https://github.com/solarcam-bridge/solarcam-bridge"
    });
    let base = |name: serde_json::Value, key: &str| {
        json!({
            "name": name,
            "unique_id": format!("{node}_{key}"),
            "device": device,
            "origin": origin,
            "availability_topic": "solarcam/bridge/availability",
        })
    };
    let with = |mut v: serde_json::Value, extra: serde_json::Value| {
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let button = |key: &str, name: &str, press: &str, extra: serde_json::Value| {
        with(
            base(json!(name), key),
            with(
                json!({"command_topic": "solarcam/5CC5638AE24C/command", "payload_press": press, "qos": 1, "retain": false}),
                extra,
            ),
        )
    };
    vec![
        (
            "camera/solarcam_5cc5638ae24c/snapshot",
            with(
                base(json!(null), "snapshot"),
                json!({"topic": "solarcam/5CC5638AE24C/snapshot"}),
            ),
        ),
        (
            "binary_sensor/solarcam_5cc5638ae24c/alarm",
            with(
                base(json!("Alarm"), "alarm"),
                json!({
                    "state_topic": "solarcam/5CC5638AE24C/alarm", "payload_on": "ON", "payload_off": "OFF",
                    "device_class": "motion", "json_attributes_topic": "solarcam/5CC5638AE24C/alarm/attributes"
                }),
            ),
        ),
        (
            "sensor/solarcam_5cc5638ae24c/battery",
            with(
                base(json!("Battery"), "battery"),
                json!({
                    "state_topic": "solarcam/5CC5638AE24C/battery", "unit_of_measurement": "%",
                    "state_class": "measurement", "device_class": "battery",
                    "json_attributes_topic": "solarcam/5CC5638AE24C/status"
                }),
            ),
        ),
        (
            "sensor/solarcam_5cc5638ae24c/last_status",
            with(
                base(json!("Last status"), "last_status"),
                json!({
                    "state_topic": "solarcam/5CC5638AE24C/last_status", "device_class": "timestamp",
                    "entity_category": "diagnostic", "json_attributes_topic": "solarcam/5CC5638AE24C/status"
                }),
            ),
        ),
        (
            "event/solarcam_5cc5638ae24c/alarm_event",
            with(
                base(json!("Alarm event"), "alarm_event"),
                json!({
                    "state_topic": "solarcam/5CC5638AE24C/alarm/event",
                    "event_types": ["alarm", "motion", "pir", "person", "vehicle", "tamper"],
                    "device_class": "motion"
                }),
            ),
        ),
        (
            "image/solarcam_5cc5638ae24c/alarm_snapshot",
            with(
                base(json!("Last alarm snapshot"), "alarm_snapshot"),
                json!({"image_topic": "solarcam/5CC5638AE24C/alarm/snapshot", "content_type": "image/jpeg"}),
            ),
        ),
        (
            "sensor/solarcam_5cc5638ae24c/awake",
            with(
                base(json!("Awake"), "awake"),
                json!({
                    "state_topic": "solarcam/5CC5638AE24C/awake", "options": ["awake", "asleep"],
                    "device_class": "enum", "entity_category": "diagnostic", "icon": "mdi:sleep"
                }),
            ),
        ),
        (
            "sensor/solarcam_5cc5638ae24c/last_seen",
            with(
                base(json!("Last seen"), "last_seen"),
                json!({
                    "state_topic": "solarcam/5CC5638AE24C/last_seen", "device_class": "timestamp",
                    "entity_category": "diagnostic", "enabled_by_default": false
                }),
            ),
        ),
        (
            "device_automation/solarcam_5cc5638ae24c/alarm_any",
            json!({
                "automation_type": "trigger", "topic": "solarcam/5CC5638AE24C/alarm/event",
                "type": "alarm", "subtype": "any", "device": device, "origin": origin
            }),
        ),
        (
            "device_automation/solarcam_5cc5638ae24c/alarm_pir",
            json!({
                "automation_type": "trigger", "topic": "solarcam/5CC5638AE24C/alarm/event",
                "type": "alarm", "subtype": "pir", "payload": "pir",
                "value_template": "{{ value_json.event_type }}", "device": device, "origin": origin
            }),
        ),
        (
            "button/solarcam_5cc5638ae24c/wake",
            button("wake", "Wake", "wake", json!({"icon": "mdi:sleep-off"})),
        ),
        (
            "button/solarcam_5cc5638ae24c/request_status",
            button(
                "request_status",
                "Request status",
                "status",
                json!({"icon": "mdi:refresh"}),
            ),
        ),
        (
            "button/solarcam_5cc5638ae24c/reboot",
            button(
                "reboot",
                "Reboot",
                "reboot",
                json!({"device_class": "restart", "entity_category": "config"}),
            ),
        ),
        (
            "button/solarcam_5cc5638ae24c/shutdown",
            button(
                "shutdown",
                "Shut down",
                "shutdown",
                json!({"entity_category": "config", "icon": "mdi:power", "enabled_by_default": false}),
            ),
        ),
        (
            "button/solarcam_5cc5638ae24c/upgrade",
            button(
                "upgrade",
                "Firmware upgrade",
                "upgrade",
                json!({"device_class": "update", "entity_category": "config", "enabled_by_default": false}),
            ),
        ),
        (
            "binary_sensor/solarcam_bridge/config_problem",
            json!({
                "name": "Configuration problem",
                "unique_id": "solarcam_bridge_config_problem",
                "device": {
                    "identifiers": ["solarcam_bridge"], "name": "SolarCam Bridge",
                    "manufacturer": "solarcam-bridge", "model": "SC211 MQTT bridge",
                    "sw_version": env!("CARGO_PKG_VERSION")
                },
                "origin": origin,
                "availability_topic": "solarcam/bridge/availability",
                "state_topic": "solarcam/bridge/config_problem", "payload_on": "ON", "payload_off": "OFF",
                "device_class": "problem", "entity_category": "diagnostic",
                "json_attributes_topic": "solarcam/bridge/config_problem/attributes"
            }),
        ),
        (
            "binary_sensor/solarcam_bridge/connectivity",
            json!({
                "name": "Connectivity",
                "unique_id": "solarcam_bridge_connectivity",
                "device": {
                    "identifiers": ["solarcam_bridge"], "name": "SolarCam Bridge",
                    "manufacturer": "solarcam-bridge", "model": "SC211 MQTT bridge",
                    "sw_version": env!("CARGO_PKG_VERSION")
                },
                "origin": origin,
                "state_topic": "solarcam/bridge/availability", "payload_on": "online", "payload_off": "offline",
                "device_class": "connectivity", "entity_category": "diagnostic"
            }),
        ),
    ]
}

/// The entity ids the README promises, on every Home Assistant release (the area in front of
/// new ids since 2026.6 is overridden by default_entity_id).
fn promised_entity_ids() -> Vec<(&'static str, &'static str)> {
    // The entity ids the README promises, on every Home Assistant release (the area in front of
    // new ids since 2026.6 is overridden by default_entity_id).
    vec![
        ("camera/solarcam_5cc5638ae24c/snapshot", "camera.driveway"),
        (
            "binary_sensor/solarcam_5cc5638ae24c/alarm",
            "binary_sensor.driveway_alarm",
        ),
        (
            "sensor/solarcam_5cc5638ae24c/battery",
            "sensor.driveway_battery",
        ),
        (
            "sensor/solarcam_5cc5638ae24c/last_status",
            "sensor.driveway_last_status",
        ),
        (
            "event/solarcam_5cc5638ae24c/alarm_event",
            "event.driveway_alarm_event",
        ),
        (
            "image/solarcam_5cc5638ae24c/alarm_snapshot",
            "image.driveway_last_alarm_snapshot",
        ),
        (
            "sensor/solarcam_5cc5638ae24c/awake",
            "sensor.driveway_awake",
        ),
        (
            "sensor/solarcam_5cc5638ae24c/last_seen",
            "sensor.driveway_last_seen",
        ),
        ("button/solarcam_5cc5638ae24c/wake", "button.driveway_wake"),
        (
            "button/solarcam_5cc5638ae24c/request_status",
            "button.driveway_request_status",
        ),
        (
            "button/solarcam_5cc5638ae24c/reboot",
            "button.driveway_reboot",
        ),
        (
            "button/solarcam_5cc5638ae24c/shutdown",
            "button.driveway_shut_down",
        ),
        (
            "button/solarcam_5cc5638ae24c/upgrade",
            "button.driveway_firmware_upgrade",
        ),
        (
            "binary_sensor/solarcam_bridge/config_problem",
            "binary_sensor.solarcam_bridge_configuration_problem",
        ),
        (
            "binary_sensor/solarcam_bridge/connectivity",
            "binary_sensor.solarcam_bridge_connectivity",
        ),
    ]
}

#[test]
fn every_entity_is_announced_with_exact_topic_and_json_retained() {
    let broker = Mosquitto::start();
    let (_bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let configs = retained_under(broker.port, "homeassistant/#");
    let mut expected = discovery_table();
    let ids = promised_entity_ids();
    for (path, json) in expected.iter_mut() {
        if let Some((_, id)) = ids.iter().find(|(p, _)| p == path) {
            json["default_entity_id"] = json!(id);
        } else {
            assert!(
                path.starts_with("device_automation/"),
                "{path} has no entity id here"
            );
        }
    }
    // Each entity and trigger written as a config of its own (what releases before device
    // discovery published on `homeassistant/<path>/config`) is a component of its device's one
    // config: the device, the origin and a camera's availability given once there, and each
    // component naming its platform and qos.
    for (path, json) in &expected {
        let mut parts = path.split('/');
        let (platform, node, key) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let topic = format!("homeassistant/device/{node}/config");
        let device_config = configs
            .get(&topic)
            .unwrap_or_else(|| panic!("no retained {topic}; have {:#?}", configs.keys()))
            .json();
        let mut want = json.clone();
        let want = want.as_object_mut().unwrap();
        assert_eq!(
            Some(&device_config["device"]),
            want.remove("device").as_ref(),
            "{path}"
        );
        assert_eq!(
            Some(&device_config["origin"]),
            want.remove("origin").as_ref(),
            "{path}"
        );
        if node != "solarcam_bridge" {
            assert_eq!(
                device_config["availability_topic"],
                "solarcam/bridge/availability"
            );
            want.remove("availability_topic");
        }
        want.insert("platform".into(), json!(platform));
        want.entry("qos").or_insert(json!(0));
        assert_eq!(
            device_config["components"][key],
            serde_json::Value::Object(want.clone()),
            "{path}"
        );
    }
    // Barn's too; battery voltage and signal wait for a status that carries them. One retained
    // message per device, nothing else under the prefix.
    assert_eq!(configs.len(), 3, "{:#?}", configs.keys());
    assert_eq!(
        configs[&device_topic(&common::node(BARN))].json()["components"]
            .as_object()
            .unwrap()
            .len(),
        20
    );
    assert!(configs.contains_key("homeassistant/device/solarcam_5cc5638ae24d/config"));
    assert_eq!(
        retained(broker.port, "solarcam/bridge/availability")
            .unwrap()
            .text(),
        "online"
    );
    assert_eq!(
        retained(broker.port, "solarcam/5CC5638AE24C/alarm")
            .unwrap()
            .text(),
        "OFF"
    );
}

#[test]
fn every_device_config_matches_the_golden_file() {
    let broker = Mosquitto::start();
    let (_bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let configs = retained_under(broker.port, "homeassistant/#");
    // Every one of them exactly, for both cameras and the bridge: tests/golden/discovery.json
    // (BLESS=1 cargo test writes it anew after a deliberate change; review the diff).
    let version = env!("CARGO_PKG_VERSION");
    let actual: std::collections::BTreeMap<String, serde_json::Value> = configs
        .iter()
        .map(|(topic, m)| {
            let text = m.text().replace(version, "{version}");
            (topic.clone(), serde_json::from_str(&text).unwrap())
        })
        .collect();
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/discovery.json");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(
            golden,
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        )
        .unwrap();
    }
    let expected: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    for (topic, json) in &expected {
        assert_eq!(actual.get(topic), Some(json), "{topic}");
    }
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
}

#[test]
fn every_snapshot_form_is_published_as_the_exact_jpeg() {
    let broker = Mosquitto::start();
    let (bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    let img = jpeg();
    let mut header = b"\x02\x00SC211\x00mac=5CC5638AE24C\x00\x00\x00\x10".to_vec();
    header.extend_from_slice(&img);
    let xxd: String = img
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{:08x}: {}  ................\n",
                i * 16,
                c.chunks(2)
                    .map(|g| hex(g, ""))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
        .collect();
    let forms: Vec<(&str, &str, Vec<u8>)> = vec![
        ("raw", "4GSolarCam/Snapshot/5CC5638AE24C", img.clone()),
        ("binary header", "4GSolarCam/Snapshot", header),
        (
            "text header",
            "4GSolarCam/Snapshot",
            [b"MAC:5C:C5:63:8A:E2:4C\r\n\r\n".as_slice(), &img].concat(),
        ),
        (
            "hex dump",
            "4GSolarCam/Snapshot/5CC5638AE24C",
            hex(&img, " ").into_bytes(),
        ),
        ("xxd", "4GSolarCam/Snapshot/5CC5638AE24C", xxd.into_bytes()),
        (
            "base64",
            "4GSolarCam/Snapshot/5CC5638AE24C",
            b64(&img).into_bytes(),
        ),
        (
            "data url",
            "4GSolarCam/Snapshot/5CC5638AE24C",
            format!("data:image/jpeg;base64,{}", b64(&img)).into_bytes(),
        ),
        (
            "json base64",
            "4GSolarCam/Snapshot",
            json!({"devMac": DRIVEWAY, "image": b64(&img)})
                .to_string()
                .into_bytes(),
        ),
        (
            "json hex",
            "4GSolarCam/Snapshot",
            json!({"mac": DRIVEWAY, "pic": hex(&img, "")})
                .to_string()
                .into_bytes(),
        ),
    ];
    for (form, topic, payload) in forms {
        // Each payload yields exactly one publish: the next one on the topic is this form's.
        camera.publish(topic, payload, false);
        let msg = ha.wait_for(form, |m| m.topic == "solarcam/5CC5638AE24C/snapshot");
        assert_eq!(
            msg.payload, img,
            "{form}: published bytes differ from the JPEG sent"
        );
    }
    bridge.wait_log(&["Driveway (5CC5638AE24C): snapshot, 1946 bytes (JSON)"]);
    let kept = retained(broker.port, "solarcam/5CC5638AE24C/snapshot").expect("snapshot retained");
    assert_eq!(kept.payload, img);
}

#[test]
fn alarm_turns_on_then_off_after_the_configured_delay() {
    let broker = Mosquitto::start();
    let (_bridge, mut ha) = start_bridge(&broker, &config_for(&broker, "alarm_off_after: 1s"));
    let camera = Peer::connect(broker.port, &[]);
    let alarm = json!({"mac": "5c:c5:63:8a:e2:4d", "type": "PIR", "time": "2026-11-27 03:00:00"})
        .to_string();
    camera.publish("4GSolarCam/Alarm", alarm.clone(), false);
    let on = ha.next_on("solarcam/5CC5638AE24D/alarm");
    assert_eq!(on.text(), "ON");
    let attrs = ha
        .seen
        .iter()
        .find(|m| m.topic == "solarcam/5CC5638AE24D/alarm/attributes")
        .cloned();
    let attrs = attrs.unwrap_or_else(|| ha.next_on("solarcam/5CC5638AE24D/alarm/attributes"));
    assert_eq!(attrs.text(), alarm);
    // Off by itself, with nothing more from the camera. When is the core's to say, against its
    // fake clock (`alarm_turns_on_then_off_after_the_configured_delay`): a wall-clock bound here
    // would only measure the machine.
    let off = ha.next_on("solarcam/5CC5638AE24D/alarm");
    assert_eq!(off.text(), "OFF");
    assert_eq!(
        retained(broker.port, "solarcam/5CC5638AE24D/alarm")
            .unwrap()
            .text(),
        "OFF"
    );
}

#[test]
fn status_sets_battery_and_diagnostics_with_the_status_as_attributes() {
    let broker = Mosquitto::start();
    let (_bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    let status = json!({"devMac": DRIVEWAY, "battery": 76, "batteryVoltage": 3.87, "rssi": -81, "firmware": "V2.1.0", "sdcard": "normal"}).to_string();
    camera.publish("4GSolarCam/Status", status.clone(), false);
    assert_eq!(ha.next_on("solarcam/5CC5638AE24C/battery").text(), "76");
    let port = broker.port;

    assert_eq!(
        wait_retained(port, "solarcam/5CC5638AE24C/battery_voltage").text(),
        "3.87"
    );
    assert_eq!(
        wait_retained(port, "solarcam/5CC5638AE24C/signal").text(),
        "-81"
    );
    assert_eq!(
        wait_retained(port, "solarcam/5CC5638AE24C/status").text(),
        status
    );
    let last = wait_retained(port, "solarcam/5CC5638AE24C/last_status");
    assert!(
        last.text().ends_with('Z') && last.text().len() == 20,
        "{}",
        last.text()
    );
    let device = wait_component(port, &node(DRIVEWAY), "battery_voltage");
    let device = if device["device"]["sw_version"] == "V2.1.0" {
        device
    } else {
        wait_component(port, &node(DRIVEWAY), "signal")
    };
    assert_eq!(
        device["components"]["battery_voltage"]["device_class"],
        "voltage"
    );
    assert_eq!(device["device"]["sw_version"], "V2.1.0");
    assert_eq!(device["components"]["signal"]["unit_of_measurement"], "dBm");
}

#[test]
fn each_button_press_sends_the_camera_its_command() {
    let broker = Mosquitto::start();
    let (_bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let mut camera = Peer::connect(
        broker.port,
        &[
            "4GSolarCam/Wake/+",
            "4GSolarCam/Status/+",
            "4GSolarCam/Config/+",
        ],
    );
    let ha = Peer::connect(broker.port, &[]);
    // The camera is awake (it just reported), so every command goes straight out.
    ha.publish("4GSolarCam/Status/5CC5638AE24D", "{}", false);
    wait_retained_value(broker.port, "solarcam/5CC5638AE24D/awake", "awake");
    let device = wait_retained(broker.port, &device_topic(&node(BARN))).json();
    for (key, topic, payload) in [
        ("wake", "4GSolarCam/Wake/5CC5638AE24D", "wake"),
        ("request_status", "4GSolarCam/Status/5CC5638AE24D", "status"),
        ("reboot", "4GSolarCam/Config/5CC5638AE24D", "reboot"),
        ("shutdown", "4GSolarCam/Config/5CC5638AE24D", "shutdown"),
        ("upgrade", "4GSolarCam/Config/5CC5638AE24D", "upgrade"),
    ] {
        // Press it as Home Assistant does: publish the button's payload_press on its command_topic.
        let config = &device["components"][key];
        assert_eq!(config["platform"], "button", "{key}");
        ha.publish(
            config["command_topic"].as_str().unwrap(),
            config["payload_press"].as_str().unwrap(),
            false,
        );
        let msg = camera.wait_for(key, |m| m.topic == topic);
        assert_eq!(msg.text(), payload, "{key}");
        assert!(!msg.retain, "{key}: commands must not be retained");
        assert_eq!(msg.qos, 1, "{key}: commands are sent with QoS 1");
    }
    for topic in [
        "4GSolarCam/Wake/5CC5638AE24D",
        "4GSolarCam/Config/5CC5638AE24D",
    ] {
        assert!(retained(broker.port, topic).is_none(), "{topic} retained");
    }
}

#[test]
fn home_assistant_birth_republishes_discovery_then_availability_then_states() {
    let broker = Mosquitto::start();
    let (_bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    camera.publish("4GSolarCam/Snapshot/5CC5638AE24D", jpeg(), false);
    ha.next_on("solarcam/5CC5638AE24D/snapshot");

    let birth = Peer::connect(broker.port, &[]);
    birth.publish("homeassistant/status", "online", false);
    // The last state of the last camera closes the republish.
    ha.next_on("solarcam/5CC5638AE24D/pending_commands");
    // The snapshot stays where it was: retained by the broker, not sent again.
    assert_eq!(
        retained(broker.port, "solarcam/5CC5638AE24D/snapshot")
            .unwrap()
            .payload,
        jpeg()
    );
    let order: Vec<String> = ha
        .seen
        .iter()
        .rev()
        .take_while(|m| m.topic != "homeassistant/status")
        .map(|m| m.topic.clone())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let configs = order.iter().filter(|t| t.ends_with("/config")).count();
    // One device config per camera, and the bridge's.
    assert_eq!(configs, 3, "{order:#?}");
    // All of it QoS 0 (one QoS keeps the order; QoS 1's PUBACKs stall a stock broker: BENCHMARKS.md).
    let republished = &ha.seen[ha.seen.len() - order.len()..];
    assert!(
        republished.iter().all(|m| m.qos == 0),
        "{:#?}",
        republished
            .iter()
            .filter(|m| m.qos != 0)
            .map(|m| (&m.topic, m.qos))
            .collect::<Vec<_>>()
    );
    let availability = order
        .iter()
        .position(|t| t == "solarcam/bridge/availability")
        .unwrap();
    assert!(
        order[..availability].iter().all(|t| t.ends_with("/config")),
        "{order:#?}"
    );
    assert!(
        order[availability + 1..]
            .iter()
            .all(|t| !t.ends_with("/config")),
        "{order:#?}"
    );
}

#[test]
fn an_unknown_camera_appears_by_itself() {
    let broker = Mosquitto::start();
    let (_bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    camera.publish(
        "4GSolarCam/Status",
        json!({"mac": "00:11:22:33:44:55", "battery": 40}).to_string(),
        false,
    );
    let config = ha
        .next_on("homeassistant/device/solarcam_001122334455/config")
        .json();
    assert_eq!(config["device"]["name"], "SC211 001122334455");
    assert_eq!(
        config["device"]["connections"],
        json!([["mac", "00:11:22:33:44:55"]])
    );
    assert_eq!(ha.next_on("solarcam/001122334455/battery").text(), "40");
}

#[test]
fn bad_input_is_logged_with_topic_size_and_reason_and_the_bridge_goes_on() {
    let broker = Mosquitto::start();
    let (bridge, mut ha) = start_bridge(&broker, &config_for(&broker, "snapshot_max_bytes: 1024"));
    let camera = Peer::connect(broker.port, &[]);
    let img = jpeg();
    assert!(img.len() > 1024);
    let before = ha.seen.len();

    // No MAC, two cameras configured, none heard from: unattributable.
    camera.publish("4GSolarCam/Alarm", b"{\"type\":\"PIR\"}".to_vec(), false);
    bridge.wait_log(&["WARN", "4GSolarCam/Alarm", "14-byte alarm names no camera"]);

    camera.publish("4GSolarCam/Snapshot", b"\x00\x01garbage".to_vec(), false);
    bridge.wait_log(&[
        "WARN",
        "4GSolarCam/Snapshot",
        "9-byte snapshot rejected",
        "no JPEG",
    ]);

    camera.publish(
        "4GSolarCam/Snapshot/5CC5638AE24C",
        img[..img.len() / 2].to_vec(),
        false,
    );
    bridge.wait_log(&[
        "WARN",
        "4GSolarCam/Snapshot/5CC5638AE24C",
        &format!("{}-byte snapshot rejected", img.len() / 2),
        "cut short",
    ]);

    camera.publish("4GSolarCam/Snapshot/5CC5638AE24C", img.clone(), false);
    bridge.wait_log(&[
        "WARN",
        &format!(
            "snapshot of {} bytes from Driveway (5CC5638AE24C)",
            img.len()
        ),
        "snapshot_max_bytes (1024)",
    ]);

    camera.publish("4GSolarCam/Status", b"{\"battery\": 5".to_vec(), false);
    bridge.wait_log(&[
        "WARN",
        "4GSolarCam/Status",
        "13-byte status rejected",
        "not JSON",
    ]);

    camera.publish(
        "4GSolarCam/Snapshot/5CC5638AE24C",
        vec![0xFF; 10 << 20],
        false,
    );
    // Refused by the connection before it is read (the limit follows snapshot_max_bytes); the
    // bridge then reconnects with a clean session so the broker does not redeliver it.
    bridge.wait_log(&[
        "WARN",
        "sent a 10485796-byte message; the bridge reads at most 73728 bytes",
        "refused it unread",
    ]);
    bridge.wait_log(&["new session started"]);
    // Its subscriptions go out before it announces itself again: once that is seen, they are in.
    ha.wait_for("availability online again", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });

    // Nothing of that reached Home Assistant, and the bridge still works. The other camera's
    // report marks the end: the bridge handles messages in order, so anything the bad input had
    // caused would have come before it.
    camera.publish(
        "4GSolarCam/Status/5CC5638AE24D",
        b"{\"battery\": 9}".to_vec(),
        false,
    );
    ha.wait_for("the marker report", |m| {
        m.topic == "solarcam/5CC5638AE24D/battery" && m.text() == "9"
    });
    // (A camera that sends anything is awake, even if what it sent was refused; and the
    // reconnect after the oversized message republishes the states already known.)
    let after = &ha.seen[before..];
    let from_bad_input = |m: &Msg| {
        m.topic.starts_with("solarcam/5CC5638AE24C")
            && (m.topic.ends_with("/snapshot")
                || m.topic.ends_with("/status")
                || m.topic.ends_with("/battery")
                || m.topic.ends_with("/alarm/attributes")
                || (m.topic.ends_with("/alarm") && m.text() == "ON"))
    };
    assert!(!after.iter().any(from_bad_input), "{after:#?}");
    camera.publish(
        "4GSolarCam/Status/5CC5638AE24C",
        b"{\"battery\": 5}".to_vec(),
        false,
    );
    assert_eq!(ha.next_on("solarcam/5CC5638AE24C/battery").text(), "5");
}

#[test]
fn credentials_work_and_the_password_is_never_logged() {
    let broker = Mosquitto::with_password("bridge", "pa55-Word!");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "pa55-Word!\n").unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, format!("mqtt:\n  url: {}\n  username: bridge\n  password_file: pw\ncameras:\n  - mac: {DRIVEWAY}\n", broker.url())).unwrap();
    let mut ha = Peer::connect_as(broker.port, &["solarcam/#"], Some(("bridge", "pa55-Word!")));
    let mut bridge = BridgeProcess::start_at(dir, config.clone(), &[]);
    ha.wait_for("online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });

    // A wrong password is refused with a message that says so, and does not show it.
    let dir2 = tempfile::tempdir().unwrap();
    let bad = dir2.path().join("config.yaml");
    std::fs::write(
        &bad,
        format!(
            "mqtt:\n  url: {}\n  username: bridge\n  password: n0t-the-one\n  client_id: other\n",
            broker.url()
        ),
    )
    .unwrap();
    let mut refused = BridgeProcess::start_at(dir2, bad, &[]);
    refused.wait_log(&["refused the username or password"]);
    for log in [bridge.stop(), refused.stop()] {
        assert!(
            log.iter()
                .all(|l| !l.contains("pa55-Word!") && !l.contains("n0t-the-one")),
            "{log:#?}"
        );
    }
}

#[test]
fn two_brokers_cameras_on_one_home_assistant_on_the_other() {
    let ha_broker = Mosquitto::start();
    let cam_broker = Mosquitto::start();
    let config = format!(
        "mqtt:\n  url: {}\ncamera_mqtt:\n  url: {}\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n",
        ha_broker.url(),
        cam_broker.url()
    );
    let (bridge, mut ha) = start_bridge(&ha_broker, &config);
    bridge.wait_log(&["camera broker: subscribed"]);
    let mut camera = Peer::connect(cam_broker.port, &["4GSolarCam/Wake/+"]);
    camera.publish("4GSolarCam/Snapshot/5CC5638AE24C", jpeg(), false);
    assert_eq!(ha.next_on("solarcam/5CC5638AE24C/snapshot").payload, jpeg());
    let press = Peer::connect(ha_broker.port, &[]);
    press.publish("solarcam/5CC5638AE24C/command", "wake", false);
    assert_eq!(
        camera.next_on("4GSolarCam/Wake/5CC5638AE24C").text(),
        "wake"
    );
    // Nothing for Home Assistant lands on the camera broker.
    assert!(retained_under(cam_broker.port, "#").is_empty());
}

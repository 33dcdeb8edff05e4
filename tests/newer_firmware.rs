//! Newer firmware against a real Mosquitto: topics set in the camera's web page, the
//! configuration request/respond pair, and the snapshot envelope's own facts.

mod common;

use common::*;

const TOPICS: &[(&str, &str)] = &[
    ("snapshot", "home/gate/snapshot"),
    ("status", "home/+/status"),
    ("alarm", "alarms/gate"),
    ("config_request", "home/gate/config/request"),
    ("config_respond", "home/gate/config/respond"),
];

#[test]
fn a_camera_whose_topics_were_all_changed_shows_every_entity_working() {
    let broker = Mosquitto::start();
    let block: String = TOPICS
        .iter()
        .map(|(kind, topic)| format!("  {kind}: {topic}\n"))
        .collect();
    let (bridge, mut ha) = start_bridge(
        &broker,
        &config_for(&broker, &format!("camera_topics:\n{block}")),
    );
    let mut args: Vec<String> = TOPICS
        .iter()
        .flat_map(|(kind, topic)| ["--topic".to_string(), format!("{kind}={topic}")])
        .collect();
    args.extend(["--envelope".into(), "--once".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let camera = Simulator::start(broker.port, DRIVEWAY, &args);

    // The alarm, then its picture in the envelope, byte for byte.
    ha.wait_for("the alarm", |m| m.topic == "solarcam/5CC5638AE24C/alarm");
    wait_retained_value(broker.port, "solarcam/5CC5638AE24C/alarm", "ON");
    let snapshot = wait_retained(broker.port, "solarcam/5CC5638AE24C/snapshot");
    assert_eq!(snapshot.payload, jpeg());
    let picture = wait_retained(broker.port, "solarcam/5CC5638AE24C/alarm/snapshot");
    assert_eq!(picture.payload, jpeg());
    // Its devName is the device's model; the name stays the user's.
    let config = "homeassistant/device/solarcam_5cc5638ae24c/config";
    let deadline = std::time::Instant::now() + WAIT;
    let device = loop {
        let device = wait_retained(broker.port, config).json()["device"].clone();
        if device["model"] == "4G Solar-powered Camera" {
            break device;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "model never set: {device}"
        );
    };
    assert_eq!(device["name"], "Driveway");

    // A button press reaches it on its documented Wake topic; its status comes on its own.
    let press = Peer::connect(broker.port, &[]);
    press.publish("solarcam/5CC5638AE24C/command", "wake", false);
    camera.wait_line("the wake", |l| l.contains("status (battery"));
    wait_retained_value(broker.port, "solarcam/5CC5638AE24C/battery", "88");

    // A configuration request (the user's, on the camera's request topic) is answered, and the
    // answer is the Configuration answer entity's attributes.
    press.publish("home/gate/config/request", "get", false);
    let answer = wait_retained(
        broker.port,
        "solarcam/5CC5638AE24C/config_answer/attributes",
    );
    assert_eq!(
        answer.json(),
        serde_json::json!({"devMac": DRIVEWAY, "result": "ok", "request": "get"})
    );
    let device = wait_component(broker.port, &node(DRIVEWAY), "config_answer");
    assert_eq!(
        device["components"]["config_answer"]["entity_category"],
        "diagnostic"
    );
    assert!(bridge
        .log()
        .iter()
        .any(|l| l.contains("(5CC5638AE24C): configuration answer")));
}

#[test]
fn an_envelope_whose_image_is_not_its_image_size_is_refused_and_the_last_picture_stays() {
    let broker = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    let now = std::time::SystemTime::now();
    let whole =
        solarcam_bridge::simulator::snapshot_envelope(DRIVEWAY.parse().unwrap(), &jpeg(), now);
    camera.publish("4GSolarCam/Snapshot", whole, false);
    let shown = wait_retained(broker.port, "solarcam/5CC5638AE24C/snapshot");
    assert_eq!(shown.payload, jpeg());

    // The same envelope with the image cut short by 100 bytes (and its end marker kept).
    let mut cut = jpeg();
    cut.drain(cut.len() - 102..cut.len() - 2);
    let mut envelope: serde_json::Value = serde_json::from_slice(
        &solarcam_bridge::simulator::snapshot_envelope(DRIVEWAY.parse().unwrap(), &cut, now),
    )
    .unwrap();
    envelope["values"]["imageSize"] = jpeg().len().into();
    camera.publish("4GSolarCam/Snapshot", envelope.to_string(), false);
    bridge.wait_log(&["imageSize says"]);
    wait_retained_value(broker.port, "solarcam/bridge/payloads_rejected", "1");
    assert_eq!(
        retained(broker.port, "solarcam/5CC5638AE24C/snapshot")
            .unwrap()
            .payload,
        jpeg()
    );
}

/// Snapshot topics named after each camera and one status and alarm topic for the site: the
/// status's `<topic>/<MAC>` form cannot be a snapshot's `farm/<camera>/pic` (`pic` is no MAC), so
/// the set is accepted, and every kind is read from its own topic.
#[test]
fn snapshot_topics_per_camera_beside_one_shared_status_topic_are_accepted_and_read() {
    let broker = Mosquitto::start();
    let topics =
        "camera_topics:\n  snapshot: farm/+/pic\n  status: farm/status\n  alarm: farm/alert\n";
    let (bridge, mut ha) = start_bridge(&broker, &config_for(&broker, topics));
    let camera = Peer::connect(broker.port, &[]);
    let now = std::time::SystemTime::now();
    let mac = DRIVEWAY.parse().unwrap();
    camera.publish(
        "farm/driveway/pic",
        solarcam_bridge::simulator::snapshot_envelope(mac, &jpeg(), now),
        false,
    );
    assert_eq!(
        wait_retained(broker.port, "solarcam/5CC5638AE24C/snapshot").payload,
        jpeg()
    );
    camera.publish(
        "farm/status",
        r#"{"devMac": "5C:C5:63:8A:E2:4C", "battery": 77}"#,
        false,
    );
    wait_retained_value(broker.port, "solarcam/5CC5638AE24C/battery", "77");
    camera.publish(
        "farm/alert",
        format!(r#"{{"mac":"{DRIVEWAY}","type":"PIR"}}"#),
        false,
    );
    let event = ha.next_on("solarcam/5CC5638AE24C/alarm/event");
    assert_eq!(event.json()["event_type"], "pir");
    // The status's `/<MAC>` form is read as status.
    camera.publish(
        "farm/status/5CC5638AE24C",
        r#"{"devMac": "5C:C5:63:8A:E2:4C", "battery": 76}"#,
        false,
    );
    wait_retained_value(broker.port, "solarcam/5CC5638AE24C/battery", "76");
    assert!(
        !bridge.log().iter().any(|l| l.contains("overlaps")),
        "{:?}",
        bridge.log()
    );
}

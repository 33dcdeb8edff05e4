//! Connecting, announcing, Home Assistant's birth, diagnostics and the stop.

use super::*;

#[test]
fn start_up_subscribes_and_publishes_discovery_then_availability_then_states() {
    let mut h = Harness::new(two_cameras());
    let actions = h.event(Event::Connected(Link::Ha));
    assert_eq!(
        actions[0],
        Action::Subscribe {
            link: Link::Ha,
            filters: vec![
                "homeassistant/status".into(),
                "solarcam/+/command".into(),
                "homeassistant/device/+/config".into(),
                "homeassistant/camera/+/snapshot/config".into()
            ]
        }
    );
    let ps = publishes(actions);
    let pos = |t: &str| {
        ps.iter()
            .position(|p| p.topic == t)
            .unwrap_or_else(|| panic!("no {t}"))
    };
    let availability = pos("solarcam/bridge/availability");
    assert!(pos("homeassistant/device/solarcam_5cc5638ae24c/config") < availability);
    assert!(pos("homeassistant/device/solarcam_bridge/config") < availability);
    assert!(availability < pos("solarcam/5CC5638AE24C/alarm"));
    assert_eq!(text(&ps[availability]), "online");
    assert!(ps[availability].retain);
    // One device config per camera (14 entities before any status: battery voltage and signal
    // wait for a value; 6 triggers), and the bridge's own: nothing else under the prefix.
    let configs = ps.iter().filter(|p| p.topic.ends_with("/config")).count();
    assert_eq!(configs, 2 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS);
    let camera = device_config(&ps, "solarcam_5cc5638ae24c");
    assert_eq!(
        camera["components"].as_object().unwrap().len(),
        COMPONENTS_PER_CAMERA
    );
    let bridge = device_config(&ps, "solarcam_bridge");
    assert_eq!(bridge["components"].as_object().unwrap().len(), 10);
    assert!(bridge["components"]["connectivity"]
        .get("availability_topic")
        .is_none());
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "OFF");
    assert!(ps
        .iter()
        .all(|p| p.retain && p.link == Link::Ha && p.qos == Qos::AtMostOnce));

    let actions = h.event(Event::Connected(Link::Camera));
    assert_eq!(
        actions,
        vec![Action::Subscribe {
            link: Link::Camera,
            filters: [
                "4GSolarCam/Snapshot",
                "4GSolarCam/Snapshot/+",
                "4GSolarCam/Status",
                "4GSolarCam/Status/+",
                "4GSolarCam/Alarm",
                "4GSolarCam/Alarm/+",
                "4GSolarCam/ConfigRespond",
                "4GSolarCam/ConfigRespond/+",
            ]
            .map(String::from)
            .to_vec()
        }]
    );
}

#[test]
fn home_assistant_birth_republishes_everything_in_order() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Snapshot", {
        let mut p = DRIVEWAY.as_bytes().to_vec();
        p.extend(jpeg(50));
        p
    });
    let ps = h.message("homeassistant/status", "online");
    assert_eq!(
        ps.iter().filter(|p| p.topic.ends_with("/config")).count(),
        2 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS
    );
    assert_eq!(text(on(&ps, "solarcam/bridge/availability")), "online");
    // The snapshot is the broker's retained message; the bridge keeps no copy to send again.
    assert!(ps.iter().all(|p| !p.topic.ends_with("/snapshot")));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "OFF");
    let last_config = ps
        .iter()
        .rposition(|p| p.topic.ends_with("/config"))
        .unwrap();
    let first_state = ps
        .iter()
        .position(|p| p.topic.starts_with("solarcam/5CC"))
        .unwrap();
    assert!(last_config < first_state);
    assert!(h.message("homeassistant/status", "offline").is_empty());
}

#[test]
fn before_home_assistant_connects_states_are_queued_and_discovery_waits_for_the_connection() {
    let mut h = Harness::new(two_cameras());
    // A message on the camera link before Home Assistant's connection: its states are queued
    // (the shell's outbox holds them until the connection is up), no discovery yet.
    let ps = h.message("4GSolarCam/Alarm/5CC5638AE24C", "{}");
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "ON");
    assert!(ps.iter().all(|p| !p.topic.ends_with("/config")), "{ps:#?}");
    // On connect: discovery, then availability, then the states again, the alarm still ON.
    let ps = publishes(h.event(Event::Connected(Link::Ha)));
    let config = ps
        .iter()
        .position(|p| p.topic == "homeassistant/device/solarcam_5cc5638ae24c/config")
        .unwrap();
    let alarm = ps
        .iter()
        .position(|p| p.topic == "solarcam/5CC5638AE24C/alarm")
        .unwrap();
    assert!(config < alarm);
    assert_eq!(text(&ps[alarm]), "ON");
}

#[test]
fn shutdown_publishes_offline_retained() {
    let mut h = Harness::connected(two_cameras());
    let actions = h.event(Event::Shutdown);
    // Offline is the last thing said, after the final counters, and it is kept by the broker.
    let Some(Action::Publish(last)) = actions.last() else {
        panic!("{actions:#?}");
    };
    assert_eq!(
        (last.topic.as_str(), text(last), last.retain, last.link),
        ("solarcam/bridge/availability", "offline", true, Link::Ha)
    );
    let availability: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Publish(p) if p.topic == "solarcam/bridge/availability"))
        .collect();
    assert_eq!(availability.len(), 1, "{actions:#?}");
}

#[test]
fn diagnostics_are_published_at_most_every_few_seconds() {
    let mut h = Harness::connected(two_cameras());
    // Start-up publishes them once.
    for _ in 0..3 {
        let actions = h.event(Event::Message {
            topic: "4GSolarCam/Snapshot".into(),
            payload: Bytes::from_static(b"junk"),
            retain: false,
            received: h.wall,
            ack: None,
        });
        assert!(all_publishes(actions)
            .iter()
            .all(|p| !p.topic.starts_with("solarcam/bridge/")));
    }
    h.now += DIAGNOSTICS_EVERY;
    h.bridge.handle_timeout(h.now);
    let ps = all_publishes(h.drain());
    assert_eq!(text(on(&ps, "solarcam/bridge/messages_received")), "3");
    assert_eq!(text(on(&ps, "solarcam/bridge/payloads_rejected")), "3");
    assert_eq!(text(on(&ps, "solarcam/bridge/payloads_unattributed")), "0");
    assert!(text(on(&ps, "solarcam/bridge/last_error")).contains("4-byte snapshot rejected"));
    // Nothing new: nothing published.
    h.now += DIAGNOSTICS_EVERY * 3;
    h.bridge.handle_timeout(h.now);
    assert!(h.drain().is_empty());
}

#[test]
fn a_lost_connection_counts_as_a_reconnect_and_is_the_last_error() {
    let mut h = Harness::connected(two_cameras());
    let lost = |link, reason: &str| Event::Disconnected {
        link,
        reason: reason.into(),
    };
    h.event(lost(Link::Ha, "connection reset"));
    // One broker: the camera link is the same connection, not a second reconnect.
    h.event(lost(Link::Camera, "connection reset"));
    // Not connected, so a second report of the same outage is not another reconnect.
    h.event(lost(Link::Ha, "connection refused"));
    assert_eq!(h.bridge.stats().get(Counter::Reconnects), 1);
    assert_eq!(
        h.bridge.stats().last_error.as_deref(),
        Some("connection refused")
    );

    // With a camera broker of its own, two connections: each one's outage counts.
    let mut cfg = two_cameras();
    cfg.camera_mqtt = config("camera_mqtt:\n  url: mqtt://cams.example:1883\n").camera_mqtt;
    let mut h = Harness::connected(cfg);
    h.event(lost(Link::Camera, "camera broker: connection reset"));
    assert_eq!(h.bridge.stats().get(Counter::Reconnects), 1);
    h.event(lost(Link::Ha, "connection reset"));
    assert_eq!(h.bridge.stats().get(Counter::Reconnects), 2);
}

#[test]
fn names_with_slashes_wildcards_quotes_and_non_ascii_stay_out_of_ids_and_topics() {
    let name = r#"Gate/#1 + "Süd" 🌞"#;
    let cfg = config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n    name: '{name}'\n"
    ));
    let ps = publishes(Harness::new(cfg).event(Event::Connected(Link::Ha)));
    let valid = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/".contains(c))
    };
    for p in &ps {
        assert!(valid(&p.topic), "{}", p.topic);
    }
    let cam = device_config(&ps, "solarcam_5cc5638ae24c");
    assert_eq!(cam["device"]["name"], name);
    assert_eq!(
        cam["components"]["snapshot"]["unique_id"],
        "solarcam_5cc5638ae24c_snapshot"
    );
}

#[test]
fn a_large_announcement_is_made_a_camera_at_a_time_in_order() {
    let mut yaml = String::from("cameras:\n");
    for i in 0..500u64 {
        yaml.push_str(&format!("  - mac: \"{:012X}\"\n", 0x0011_0000_0000u64 + i));
    }
    let mut b = Bridge::new(config(&yaml));
    b.handle(Event::Connected(Link::Ha), Instant::now());
    // Only the bridge's own entities and the subscription are queued up front.
    assert!(
        b.outbox.len() < 20,
        "{} actions queued at once",
        b.outbox.len()
    );
    let ps = all_publishes(std::iter::from_fn(|| b.poll_action()).collect());
    let configs = ps.iter().filter(|p| p.topic.ends_with("/config")).count();
    assert_eq!(configs, 500 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS);
    let availability = ps
        .iter()
        .position(|p| p.topic == "solarcam/bridge/availability")
        .unwrap();
    assert!(ps[..availability]
        .iter()
        .all(|p| p.topic.ends_with("/config")));
    assert!(ps[availability..]
        .iter()
        .all(|p| !p.topic.ends_with("/config")));
    assert!(!b.has_more());
}

#[test]
fn a_separate_camera_broker_has_a_connectivity_sensor_that_follows_its_link() {
    let two =
        format!("camera_mqtt:\n  url: mqtt://cams.example:1883\ncameras:\n  - mac: {DRIVEWAY}\n");
    let mut h = Harness::new(config(&two));
    let ps = publishes(h.event(Event::Connected(Link::Ha)));
    let c = component(&ps, "solarcam_bridge", "camera_broker");
    assert_eq!(c["platform"], "binary_sensor");
    assert_eq!(c["device_class"], "connectivity");
    assert_eq!(c["entity_category"], "diagnostic");
    assert_eq!(c["state_topic"], "solarcam/bridge/camera_broker");
    assert_eq!(c["availability_topic"], "solarcam/bridge/availability");
    let state = on(&ps, "solarcam/bridge/camera_broker");
    assert_eq!((text(state), state.retain), ("OFF", true));
    let ps = publishes(h.event(Event::Connected(Link::Camera)));
    assert_eq!(text(on(&ps, "solarcam/bridge/camera_broker")), "ON");
    let ps = publishes(h.event(Event::Disconnected {
        link: Link::Camera,
        reason: "4G broker gone".into(),
    }));
    assert_eq!(text(on(&ps, "solarcam/bridge/camera_broker")), "OFF");

    // One broker again: the sensor is taken down (its component reduced to its platform, which
    // is how Home Assistant removes one; left out, it would stay).
    let one = format!("cameras:\n  - mac: {DRIVEWAY}\n");
    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(config(&one)))));
    let bridge = device_config(&ps, "solarcam_bridge");
    assert_eq!(
        bridge["components"]["camera_broker"],
        serde_json::json!({"platform": "binary_sensor"})
    );
    assert!(bridge["components"].get("connectivity").is_some());
    assert!(on(&ps, "solarcam/bridge/camera_broker").payload.is_empty());

    // With one broker it is never announced.
    let mut h = Harness::new(config(&one));
    let ps = publishes(h.event(Event::Connected(Link::Ha)));
    assert!(ps.iter().all(|p| !p.topic.contains("camera_broker")));
}

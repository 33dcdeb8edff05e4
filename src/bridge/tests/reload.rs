//! Configuration changes, reconnects, ghosts of earlier runs, and what survives a restart.

use super::*;

#[test]
fn reload_adds_removes_and_renames_only_what_changed() {
    let mut h = Harness::connected(two_cameras());
    let new = config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n    name: Front drive\n    area: Garden\n  - mac: 112233445566\n    name: Gate\n"
    ));
    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(new))));
    // Barn removed: its device config emptied (every entity and trigger with it), retained
    // states cleared.
    let p = on(&ps, "homeassistant/device/solarcam_5cc5638ae24d/config");
    assert!(p.payload.is_empty() && p.retain);
    assert!(on(&ps, "solarcam/5CC5638AE24D/snapshot").payload.is_empty());
    // Driveway renamed in place: same unique_id, new name.
    let cam = device_config(&ps, "solarcam_5cc5638ae24c");
    assert_eq!(
        cam["components"]["snapshot"]["unique_id"],
        "solarcam_5cc5638ae24c_snapshot"
    );
    assert_eq!(cam["device"]["name"], "Front drive");
    // Gate added.
    let gate = json(on(&ps, "homeassistant/device/solarcam_112233445566/config"));
    assert_eq!(gate["device"]["name"], "Gate");
    // The bridge device is untouched.
    assert!(ps.iter().all(|p| !p.topic.contains("solarcam_bridge")));

    // Reloading the same file again changes nothing.
    let same = h.bridge.config().clone();
    assert!(h.event(Event::ConfigReloaded(Box::new(same))).is_empty());
}

/// The core decides when the broker settings need new connections; the shell only carries it out.
#[test]
fn reload_reconnects_only_for_broker_settings_and_says_offline_first() {
    let remote = |url: &str, extra: &str| {
        config(&format!(
            "mqtt:\n  url: {url}\n{extra}cameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n"
        ))
    };
    let mut h = Harness::connected(remote("mqtt://10.0.0.2:1883", ""));

    // Cameras, names, timings: no reconnect.
    let renamed = remote("mqtt://10.0.0.2:1883", "alarm_off_after: 10s\n");
    let actions = h.event(Event::ConfigReloaded(Box::new(renamed)));
    assert!(!actions.contains(&Action::Reconnect), "{actions:?}");

    // Another Home Assistant broker: "offline" goes to the old one, then the shell reconnects.
    let moved = remote("mqtt://10.0.0.3:1883", "alarm_off_after: 10s\n");
    let actions = h.event(Event::ConfigReloaded(Box::new(moved)));
    assert_eq!(actions.last(), Some(&Action::Reconnect), "{actions:?}");
    let offline = actions
        .iter()
        .position(|a| {
            matches!(a, Action::Publish(p) if p.topic == "solarcam/bridge/availability"
                && p.payload == "offline" && p.retain && p.link == Link::Ha)
        })
        .expect("offline on the old broker");
    assert!(offline < actions.len() - 1);
    assert_eq!(
        h.bridge.config().mqtt.remote().map(|b| b.url.to_string()),
        Some("mqtt://10.0.0.3:1883".to_string())
    );
    assert_eq!(h.bridge.stats().get(Counter::Reconnects), 1);

    // A camera broker of their own: reconnect, but Home Assistant's broker is the same one, so
    // no "offline" there.
    let h2 = "camera_mqtt:\n  url: mqtt://cams.example:1883\nalarm_off_after: 10s\n";
    h.event(Event::Connected(Link::Ha));
    let actions = h.event(Event::ConfigReloaded(Box::new(remote(
        "mqtt://10.0.0.3:1883",
        h2,
    ))));
    assert_eq!(actions.last(), Some(&Action::Reconnect), "{actions:?}");
    assert!(!publishes(actions).iter().any(|p| p.payload == "offline"));
}

#[test]
fn the_embedded_brokers_settings_wait_for_a_restart() {
    let embedded = |listen: &str| {
        config(&format!(
            "mqtt:\n  embedded: true\n  listen: {listen}\ncameras:\n  - mac: {DRIVEWAY}\n"
        ))
    };
    let mut h = Harness::connected(embedded("127.0.0.1:1883"));
    let before = h.bridge.config().mqtt.clone();
    let actions = h.event(Event::ConfigReloaded(Box::new(embedded("127.0.0.1:1999"))));
    assert!(!actions.contains(&Action::Reconnect), "{actions:?}");
    assert_eq!(h.bridge.config().mqtt, before);
    // Nor can it be swapped for a broker at a URL while clients are connected to it.
    let remote = config(&format!(
        "mqtt:\n  url: mqtt://10.0.0.2\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    let actions = h.event(Event::ConfigReloaded(Box::new(remote)));
    assert!(!actions.contains(&Action::Reconnect), "{actions:?}");
    assert_eq!(h.bridge.config().mqtt, before);
}

#[test]
fn reload_with_new_topics_moves_everything() {
    let mut h = Harness::connected(two_cameras());
    let mut new = two_cameras();
    new.base_topic = "cams".into();
    new.camera_topic_prefix = "Solar".into();
    new.camera_topics = crate::protocol::CameraTopics::under("Solar");
    let actions = h.event(Event::ConfigReloaded(Box::new(new)));
    let ha_filters = |base: &str| {
        vec![
            "homeassistant/status".to_string(),
            format!("{base}/+/command"),
            "homeassistant/device/+/config".to_string(),
            "homeassistant/camera/+/snapshot/config".to_string(),
        ]
    };
    assert!(actions.contains(&Action::Unsubscribe {
        link: Link::Ha,
        filters: ha_filters("solarcam")
    }));
    // The availability topic is the connection's last will: a new base topic needs new
    // connections, after the old names are cleared on the old ones.
    assert_eq!(actions.last(), Some(&Action::Reconnect));
    let old = publishes(actions);
    assert!(on(&old, "solarcam/bridge/availability").payload.is_empty());
    let mut actions = h.event(Event::Connected(Link::Ha));
    actions.extend(h.event(Event::Connected(Link::Camera)));
    assert!(actions.contains(&Action::Subscribe {
        link: Link::Ha,
        filters: ha_filters("cams")
    }));
    assert!(actions.iter().any(|a| matches!(a, Action::Subscribe { link: Link::Camera, filters } if filters[0] == "Solar/Snapshot")));
    let ps = publishes(actions);
    assert_eq!(text(on(&ps, "cams/bridge/availability")), "online");
    let cam = component(&ps, "solarcam_5cc5638ae24c", "snapshot");
    assert_eq!(cam["topic"], "cams/5CC5638AE24C/snapshot");
    let ps = h.message("solarcam/5CC5638AE24C/command", "wake");
    assert!(ps.is_empty(), "old command topic no longer read");
    let ps = h.message("cams/5CC5638AE24C/command", "wake");
    assert_eq!(ps[0].topic, "Solar/Wake/5CC5638AE24C");
}

fn retained_message(h: &mut Harness, topic: &str, payload: Vec<u8>) -> Vec<Publish> {
    let e = Event::Message {
        topic: topic.to_string(),
        payload: payload.into(),
        retain: true,
        received: h.wall,
        ack: None,
    };
    publishes(h.event(e))
}

/// The device config another run of the bridge left retained for `mac`.
fn announcement(mac: &str, base: &str) -> (String, Vec<u8>) {
    let topics = Topics {
        discovery_prefix: "homeassistant".into(),
        base: base.into(),
    };
    let mac: Mac = mac.parse().unwrap();
    let info = CameraInfo {
        mac,
        name: "Old",
        area: None,
        model: None,
        sw_version: None,
    };
    let config =
        crate::discovery::camera_device_config(&topics, &info, CameraEntity::ALL.into_iter());
    (
        topics.camera_device_config(mac),
        serde_json::to_vec(&config).unwrap(),
    )
}

#[test]
fn ghosts_of_cameras_no_longer_configured_are_removed_at_start() {
    let mut h = Harness::connected(two_cameras());
    let (topic, payload) = announcement("112233445566", "solarcam");
    let ps = retained_message(&mut h, &topic, payload);
    assert_eq!(
        ps.len(),
        // The device config (every entity and trigger with it), every retained state (not the
        // event topic).
        1 + StateTopic::ALL.len() - 1,
        "{ps:#?}"
    );
    assert!(on(&ps, "homeassistant/device/solarcam_112233445566/config")
        .payload
        .is_empty());
    assert!(ps
        .iter()
        .all(|p| p.topic != "solarcam/112233445566/alarm/event"));
    assert!(on(&ps, "solarcam/112233445566/snapshot").payload.is_empty());
    assert!(ps.iter().all(|p| p.retain && p.payload.is_empty()));
    // It is not made a camera of this run.
    assert_eq!(h.bridge.camera_count(), 2);
}

#[test]
fn ghosts_an_earlier_release_announced_entity_by_entity_are_removed_that_way() {
    let mut h = Harness::connected(two_cameras());
    let legacy = br#"{"name":null,"unique_id":"solarcam_112233445566_snapshot","topic":"solarcam/112233445566/snapshot","origin":{"name":"solarcam-bridge"}}"#;
    let ps = retained_message(
        &mut h,
        "homeassistant/camera/solarcam_112233445566/snapshot/config",
        legacy.to_vec(),
    );
    // 17 entities, 6 triggers and the Awake binary sensor of older releases; the states.
    assert_eq!(ps.len(), 17 + 6 + 1 + StateTopic::ALL.len() - 1, "{ps:#?}");
    for topic in [
        "homeassistant/device_automation/solarcam_112233445566/alarm_pir/config",
        "homeassistant/button/solarcam_112233445566/reboot/config",
        "homeassistant/binary_sensor/solarcam_112233445566/awake/config",
        "solarcam/112233445566/snapshot",
    ] {
        assert!(on(&ps, topic).payload.is_empty(), "{topic}");
    }
    assert!(ps.iter().all(|p| p.retain && p.payload.is_empty()));
    // A configured camera's: moved by the announcement, not removed.
    let mine = String::from_utf8(legacy.to_vec())
        .unwrap()
        .replace("112233445566", DRIVEWAY);
    assert!(retained_message(
        &mut h,
        &format!(
            "homeassistant/camera/solarcam_{}/snapshot/config",
            DRIVEWAY.to_lowercase()
        ),
        mine.into_bytes()
    )
    .is_empty());
}

#[test]
fn announcements_that_are_not_ghosts_are_left_alone() {
    let mut h = Harness::connected(two_cameras());
    // A configured camera's own config, echoed back.
    let (topic, payload) = announcement(DRIVEWAY, "solarcam");
    assert!(retained_message(&mut h, &topic, payload).is_empty());
    // Another bridge's camera (other state topics).
    let (topic, payload) = announcement("112233445566", "elsewhere");
    assert!(retained_message(&mut h, &topic, payload).is_empty());
    // A live (not retained) config is not a leftover of an earlier run.
    let (topic, payload) = announcement("112233445566", "solarcam");
    assert!(h.message(&topic, payload).is_empty());
    // Someone else's device with the same id.
    let other = br#"{"device":{"name":"x"},"components":{"snapshot":{"unique_id":"solarcam_112233445566_snapshot","topic":"solarcam/112233445566/snapshot"}}}"#;
    assert!(retained_message(
        &mut h,
        "homeassistant/device/solarcam_112233445566/config",
        other.to_vec()
    )
    .is_empty());
}

#[test]
fn discovered_cameras_are_saved_and_survive_a_restart() {
    let mut h = Harness::connected(two_cameras());
    let actions = h.event(Event::Message {
        topic: "4GSolarCam/Alarm/112233445566".into(),
        payload: Bytes::from_static(b"{}"),
        retain: false,
        received: h.wall,
        ack: None,
    });
    let gate: Mac = "112233445566".parse().unwrap();
    assert!(actions.contains(&Action::SaveState(Saved {
        discovered: vec![gate],
        device_discovery: true,
        ..Saved::default()
    })));

    // The next run restores it, so its retained announcement is no ghost.
    let mut h = Harness::new(two_cameras());
    h.bridge.restore(Saved {
        discovered: vec![gate],
        ..Saved::default()
    });
    h.event(Event::Connected(Link::Ha));
    let (topic, payload) = announcement("112233445566", "solarcam");
    assert!(retained_message(&mut h, &topic, payload).is_empty());
    assert_eq!(h.bridge.camera_count(), 3);

    // Turning discovery of unknown cameras off removes it, and saves that.
    let mut cfg = two_cameras();
    cfg.discover_unknown = false;
    let actions = h.event(Event::ConfigReloaded(Box::new(cfg)));
    assert!(actions.contains(&Action::SaveState(Saved {
        device_discovery: true,
        ..Saved::default()
    })));
    assert!(on(
        &publishes(actions),
        "homeassistant/device/solarcam_112233445566/config"
    )
    .payload
    .is_empty());
}

#[test]
fn a_rejected_file_raises_the_problem_sensor_and_a_good_one_clears_it() {
    let mut h = Harness::connected(two_cameras());
    let ps = publishes(h.event(Event::ConfigRejected {
        file: "/etc/solarcam-bridge/config.yaml".into(),
        errors: vec!["config.yaml:3: camera \"barn\": mac \"5CC5\" is not a MAC address".into()],
    }));
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "ON");
    let attrs = json(on(&ps, "solarcam/bridge/config_problem/attributes"));
    assert_eq!(
        attrs["errors"][0],
        "config.yaml:3: camera \"barn\": mac \"5CC5\" is not a MAC address"
    );
    // The cameras keep working on the last good configuration.
    let ps = h.message("solarcam/5CC5638AE24D/command", "wake");
    assert_eq!(ps[0].topic, "4GSolarCam/Wake/5CC5638AE24D");
    // A birth message republishes the problem too.
    let ps = h.message("homeassistant/status", "online");
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "ON");

    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(two_cameras()))));
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "OFF");
    assert_eq!(
        text(on(&ps, "solarcam/bridge/config_problem/attributes")),
        "{}"
    );
}

#[test]
fn an_upgrade_moves_every_device_to_one_config_once_and_a_restart_does_not_again() {
    // A state file of a release before device discovery (or none): nothing says it moved.
    let mut h = Harness::new(two_cameras());
    h.bridge.restore(Saved::default());
    let actions = h.event(Event::Connected(Link::Ha));
    let saved: Vec<Saved> = saves(&actions).into_iter().cloned().collect();
    assert_eq!(saved.len(), 1, "recorded once every device moved");
    assert!(saved[0].device_discovery);
    let ps = publishes(actions);
    let migrate = br#"{"migrate_discovery": true}"#;
    for (node, legacy) in [
        (
            "solarcam_5cc5638ae24c",
            h.topics().legacy_camera_configs(DRIVEWAY.parse().unwrap()),
        ),
        ("solarcam_bridge", h.topics().legacy_bridge_configs()),
    ] {
        let device = ps
            .iter()
            .position(|p| p.topic == format!("homeassistant/device/{node}/config"))
            .unwrap();
        for old in &legacy {
            // The request to move, the old topic emptied, then the device config; all
            // retained.
            let at: Vec<usize> = ps
                .iter()
                .enumerate()
                .filter(|(_, p)| &p.topic == old)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(at.len(), 2, "{old}");
            assert_eq!(&ps[at[0]].payload[..], migrate, "{old}");
            assert!(at[0] < at[1] && at[1] < device, "{old}");
            assert!(ps[at[1]].payload.is_empty() && ps[at[0]].retain && ps[at[1]].retain);
        }
    }
    let configs = ps.iter().filter(|p| p.topic.ends_with("/config")).count();
    // Per camera: 24 old topics twice and its device config; the bridge's 11 twice and its own.
    assert_eq!(configs, 2 * (24 * 2 + 1) + 11 * 2 + 1);

    // The next start: the device configs only.
    let mut again = Harness::new(two_cameras());
    again.bridge.restore(saved[0].clone());
    let actions = again.event(Event::Connected(Link::Ha));
    assert!(saves(&actions).is_empty());
    let ps = publishes(actions);
    let configs: Vec<&str> = ps
        .iter()
        .filter(|p| p.topic.ends_with("/config"))
        .map(|p| p.topic.as_str())
        .collect();
    assert_eq!(
        configs,
        [
            "homeassistant/device/solarcam_bridge/config",
            "homeassistant/device/solarcam_5cc5638ae24c/config",
            "homeassistant/device/solarcam_5cc5638ae24d/config"
        ]
    );
    // Home Assistant's birth re-announces the same way.
    again.advance(Duration::from_secs(10));
    let ps = again.message("homeassistant/status", "online");
    assert_eq!(
        ps.iter().filter(|p| p.topic.ends_with("/config")).count(),
        3
    );
}

#[test]
fn a_camera_removed_after_the_move_takes_only_its_device_config_down() {
    let mut h = Harness::connected(two_cameras());
    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n"
    ))))));
    // An empty per-entity topic would be a conflicting discovery message to Home Assistant,
    // which has the entities on the device topic now.
    assert!(ps
        .iter()
        .filter(|p| p.topic.ends_with("/config"))
        .all(|p| p.topic.starts_with("homeassistant/device/")));
    let barn = on(&ps, "homeassistant/device/solarcam_5cc5638ae24d/config");
    assert!(barn.payload.is_empty() && barn.retain);
}

//! The camera broker may be public: what strangers can and cannot make the bridge do.

use super::*;

const STRANGER: &str = "112233445566";

fn retained_message(h: &mut Harness, topic: &str, payload: &str) -> Vec<Publish> {
    let e = Event::Message {
        topic: topic.to_string(),
        payload: Bytes::from(payload.to_string()),
        retain: true,
        received: h.wall,
        ack: None,
    };
    publishes(h.event(e))
}

fn status(mac: &str) -> String {
    format!(r#"{{"mac":"{mac}","battery":80}}"#)
}

#[test]
fn a_flood_of_random_macs_adds_one_camera_per_interval_and_never_more_than_discover_max() {
    let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
    let mut added = 0;
    let mut writes = 0;
    // 500 strangers, 50 ms apart: 25 s.
    for i in 0..500u64 {
        let mac = format!("{:012X}", 0x0200_0000_0000u64 + i);
        let e = Event::Message {
            topic: "4GSolarCam/Status".into(),
            payload: Bytes::from(status(&mac)),
            retain: false,
            received: h.wall,
            ack: None,
        };
        let actions = h.event(e);
        writes += saves(&actions).len();
        let ps = publishes(actions);
        if ps
            .iter()
            .any(|p| p.topic.starts_with("homeassistant/device/solarcam_02"))
        {
            added += 1;
        }
        h.advance(Duration::from_millis(50));
    }
    // One at once, then one per 10 s: at 0 s, 10 s and 20 s.
    assert_eq!(added, 3);
    assert_eq!(h.bridge.discovered().len(), 3);
    assert_eq!(writes, 3, "the state file is written once per camera added");
    assert_eq!(h.bridge.stats().get(Counter::RefusedCameras), 497);

    // Given time, never past discover_max (8).
    for i in 0..200u64 {
        let mac = format!("{:012X}", 0x0300_0000_0000u64 + i);
        h.message("4GSolarCam/Status", status(&mac));
        h.advance(Duration::from_secs(11));
    }
    assert_eq!(
        h.bridge.discovered().len(),
        crate::config::DEFAULT_DISCOVER_MAX
    );
    assert_eq!(h.bridge.stats().get(Counter::RefusedCameras), 497 + 200 - 5);
}

#[test]
fn discover_max_is_configurable_and_zero_admits_none() {
    let mut h = Harness::connected(config("discover_max: 0\n"));
    assert!(h.message("4GSolarCam/Status", status(STRANGER)).is_empty());
    assert!(h.bridge.discovered().is_empty());
    assert_eq!(h.bridge.stats().get(Counter::RefusedCameras), 1);
}

#[test]
fn unlisted_cameras_are_off_by_default_on_a_separate_camera_broker() {
    let c = config("camera_mqtt:\n  url: mqtt://broker.example.com\n");
    assert!(!c.discover_unknown);
    let c = config("camera_mqtt:\n  url: mqtt://broker.example.com\ndiscover_unknown: true\n");
    assert!(c.discover_unknown);
    assert!(config("").discover_unknown);
}

#[test]
fn a_camera_deleted_in_home_assistant_is_forgotten_and_not_brought_back_by_its_messages() {
    let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
    h.message("4GSolarCam/Status", status(STRANGER));
    assert_eq!(h.bridge.discovered().len(), 1);

    // Home Assistant deletes the device: it empties the device's config.
    let e = Event::Message {
        topic: format!(
            "homeassistant/device/solarcam_{}/config",
            STRANGER.to_lowercase()
        ),
        payload: Bytes::new(),
        retain: false,
        received: h.wall,
        ack: None,
    };
    let actions = h.event(e);
    let saved = saves(&actions);
    assert_eq!(saved.len(), 1);
    assert!(saved[0].discovered.is_empty());
    assert_eq!(saved[0].dismissed, vec![STRANGER.parse().unwrap()]);
    let ps = publishes(actions);
    // Its states are cleared (the broker would otherwise keep them retained forever).
    let cleared = on(&ps, "solarcam/112233445566/status");
    assert!(cleared.payload.is_empty() && cleared.retain);
    assert!(h.bridge.discovered().is_empty());

    // Its next messages, long after, do not bring it back.
    h.advance(Duration::from_secs(60));
    assert!(h.message("4GSolarCam/Status", status(STRANGER)).is_empty());
    assert_eq!(h.bridge.stats().get(Counter::RefusedCameras), 1);

    // Listing it does.
    let listed = config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n  - mac: {STRANGER}\n    name: Gate\n"
    ));
    let actions = h.event(Event::ConfigReloaded(Box::new(listed)));
    assert!(saves(&actions)[0].dismissed.is_empty());
    on(
        &publishes(actions),
        "homeassistant/device/solarcam_112233445566/config",
    );
}

#[test]
fn a_listed_camera_whose_config_is_emptied_stays() {
    let mut h = Harness::connected(two_cameras());
    let e = Event::Message {
        topic: "homeassistant/device/solarcam_5cc5638ae24c/config".into(),
        payload: Bytes::new(),
        retain: false,
        received: h.wall,
        ack: None,
    };
    assert!(saves(&h.event(e)).is_empty());
    let ps = h.message("4GSolarCam/Status", status(DRIVEWAY));
    on(&ps, "solarcam/5CC5638AE24C/status");
}

#[test]
fn a_camera_removed_from_the_file_is_not_rediscovered_by_its_messages() {
    let mut h = Harness::connected(two_cameras());
    h.event(Event::ConfigReloaded(Box::new(config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n"
    )))));
    h.advance(Duration::from_secs(60));
    assert!(h.message("4GSolarCam/Status", status(BARN)).is_empty());
    assert!(h.bridge.discovered().is_empty());
}

#[test]
fn dismissed_cameras_survive_a_restart() {
    let mut h = Harness::connected(config(""));
    h.message("4GSolarCam/Status", status(STRANGER));
    let e = Event::Message {
        topic: "homeassistant/device/solarcam_112233445566/config".into(),
        payload: Bytes::new(),
        retain: false,
        received: h.wall,
        ack: None,
    };
    let saved = saves(&h.event(e))[0].clone();
    let mut h = Harness::new(config(""));
    h.bridge.restore(saved);
    h.event(Event::Connected(Link::Ha));
    h.event(Event::Connected(Link::Camera));
    assert!(h.message("4GSolarCam/Status", status(STRANGER)).is_empty());
}

#[test]
fn a_state_file_with_more_dismissed_cameras_than_the_cap_keeps_the_newest() {
    let macs: Vec<Mac> = (0..MAX_DISMISSED as u64 + 10)
        .map(|i| format!("{:012X}", 0x0300_0000_0000u64 + i).parse().unwrap())
        .collect();
    let mut h = Harness::new(config("discover_unknown: true\n"));
    h.bridge.restore(Saved {
        dismissed: macs.clone(),
        ..Saved::default()
    });
    h.event(Event::Connected(Link::Ha));
    h.event(Event::Connected(Link::Camera));
    // The next save writes what was kept: the newest MAX_DISMISSED, oldest first.
    let stranger = "112233445566";
    h.message("4GSolarCam/Status", status(stranger));
    let e = Event::Message {
        topic: format!(
            "homeassistant/device/solarcam_{}/config",
            stranger.to_lowercase()
        ),
        payload: Bytes::new(),
        retain: false,
        received: h.wall,
        ack: None,
    };
    let saved = saves(&h.event(e))[0].clone();
    assert_eq!(saved.dismissed.len(), MAX_DISMISSED);
    let mut expected = macs[11..].to_vec();
    expected.push(stranger.parse().unwrap());
    assert_eq!(saved.dismissed, expected);
}

#[test]
fn reports_over_64_kib_are_refused_unread_and_counted() {
    let mut h = Harness::connected(two_cameras());
    let padding = |n: usize| "x".repeat(n);
    let json = |pad: usize| {
        format!(
            r#"{{"mac":"{DRIVEWAY}","battery":80,"pad":"{}"}}"#,
            padding(pad)
        )
    };
    let at_limit = json(0);
    let at_limit = json(crate::bridge::reports::MAX_REPORT_BYTES - at_limit.len());
    assert_eq!(at_limit.len(), crate::bridge::reports::MAX_REPORT_BYTES);
    on(
        &h.message("4GSolarCam/Status", at_limit.clone()),
        "solarcam/5CC5638AE24C/status",
    );
    on(
        &h.message("4GSolarCam/Alarm", at_limit),
        "solarcam/5CC5638AE24C/alarm/attributes",
    );
    let over = json(crate::bridge::reports::MAX_REPORT_BYTES);
    assert!(h.message("4GSolarCam/Status", over.clone()).is_empty());
    assert!(h.message("4GSolarCam/Alarm", over).is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 2);
    assert!(h.last_error().contains("rejected unread"));
}

#[test]
fn a_retained_command_is_not_obeyed_but_cleared() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Status", status(DRIVEWAY));
    let ps = retained_message(&mut h, "solarcam/5CC5638AE24C/command", "upgrade");
    assert_eq!(
        ps,
        vec![Publish {
            link: Link::Ha,
            topic: "solarcam/5CC5638AE24C/command".into(),
            payload: Bytes::new(),
            qos: Qos::AtMostOnce,
            retain: true,
        }]
    );
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
    // The clearing comes back to us as an empty command: ignored, not refused.
    assert!(h.message("solarcam/5CC5638AE24C/command", "").is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
    // A live press still works.
    let ps = h.message("solarcam/5CC5638AE24C/command", "reboot");
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].topic, "4GSolarCam/Config/5CC5638AE24C");
}

#[test]
fn a_command_for_a_camera_the_bridge_does_not_know_is_refused_even_with_discovery_on() {
    let mut h = Harness::connected(two_cameras());
    assert!(h.bridge.config().discover_unknown);
    assert!(h
        .message("solarcam/112233445566/command", "reboot")
        .is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
    assert!(h.last_error().contains("not one of the bridge's cameras"));
}

#[test]
fn a_flood_of_birth_messages_announces_twice_not_a_hundred_times() {
    let mut h = Harness::connected(two_cameras());
    let configs = |ps: &[Publish]| ps.iter().filter(|p| p.topic.ends_with("/config")).count();
    let mut announced = 0;
    for _ in 0..100 {
        announced += configs(&h.message("homeassistant/status", "online"));
        announced += configs(&h.advance(Duration::from_millis(10)));
    }
    // The first at once; the 99 others within 5 s of it are folded into one at the 5 s mark.
    let per_announcement = 2 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS;
    assert_eq!(announced, per_announcement);
    let later = h.advance(Duration::from_secs(5));
    assert_eq!(configs(&later), per_announcement);
    assert_eq!(configs(&h.advance(Duration::from_secs(60))), 0);
    // Past the 5 s, one birth is again announced at once.
    assert_eq!(
        configs(&h.message("homeassistant/status", "online")),
        per_announcement
    );
}

#[test]
fn a_jpeg_after_a_large_header_is_copied_out_not_kept_as_a_slice() {
    let mut h = Harness::connected(two_cameras());
    let mut payload = DRIVEWAY.as_bytes().to_vec();
    payload.extend(std::iter::repeat_n(b' ', 200 << 10));
    payload.extend(jpeg(10));
    let payload = Bytes::from(payload);
    let range = payload.as_ptr_range();
    let ps = h.message("4GSolarCam/Snapshot", payload.clone());
    let snap = on(&ps, "solarcam/5CC5638AE24C/snapshot");
    assert_eq!(snap.payload.as_ref(), jpeg(10).as_slice());
    assert!(
        !range.contains(&snap.payload.as_ptr()),
        "the JPEG still points into the payload"
    );

    // A JPEG that is nearly the whole payload stays a slice: no copy for the common case.
    let payload = Bytes::from(jpeg(10));
    let range = payload.as_ptr_range();
    let ps = h.message("4GSolarCam/Snapshot/5CC5638AE24C", payload.clone());
    let snap = on(&ps, "solarcam/5CC5638AE24C/snapshot");
    assert!(range.contains(&snap.payload.as_ptr()));
}

#[test]
fn a_mac_field_that_is_not_a_mac_is_refused_and_never_given_to_the_only_camera() {
    // With one listed camera, a payload naming no camera is that camera's: one naming a false
    // one must not be.
    let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
    let forged = format!(r#"{{"devMac":"{}","battery":5}}"#, "Z".repeat(3000));
    let ps = h.message("4GSolarCam/Status", forged);
    assert!(ps.is_empty(), "nothing published: {ps:#?}");
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
    assert!(h.last_error().contains("refused"), "{}", h.last_error());
    assert!(h
        .last_error()
        .contains("(3000 characters), not a MAC address"));
    assert!(h.last_error().len() < 300, "the value is not copied whole");
    // The same for an alarm (JSON or not) and a snapshot carried in JSON.
    let ps = h.message("4GSolarCam/Alarm", r#"{"mac":"not-a-mac","type":"pir"}"#);
    assert!(ps.is_empty(), "{ps:#?}");
    let img = crate::test_support::b64(&jpeg(50));
    let ps = h.message(
        "4GSolarCam/Snapshot",
        format!(r#"{{"deviceMac":12345,"image":"{img}"}}"#),
    );
    assert!(ps.is_empty(), "{ps:#?}");
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 3);
    // Empty or null MAC fields are "not told", not a false claim: the only camera's.
    let ps = h.message("4GSolarCam/Status", r#"{"devMac":"","battery":40}"#);
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/battery")), "40");
    let ps = h.message("4GSolarCam/Status", r#"{"mac":null,"battery":41}"#);
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/battery")), "41");
    // A good MAC beside a bad one wins.
    let ps = h.message(
        "4GSolarCam/Status",
        format!(r#"{{"wifiMac":"zz","devMac":"{DRIVEWAY}","battery":42}}"#),
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/battery")), "42");
}

#[test]
fn the_last_error_state_fits_home_assistant_and_its_attribute_holds_the_text() {
    let mut h = Harness::connected(two_cameras());
    let topic = format!("solarcam/{}/command", "x".repeat(3000));
    h.message(&topic, "wake");
    h.now += DIAGNOSTICS_EVERY;
    h.bridge.handle_timeout(h.now);
    let ps = all_publishes(h.drain());
    let state = text(on(&ps, "solarcam/bridge/last_error"));
    assert_eq!(state.chars().count(), MAX_STATE_CHARS);
    assert!(state.ends_with('…'));
    assert!(state.starts_with("solarcam/xxx"));
    let attrs = json(on(&ps, "solarcam/bridge/last_error/attributes"));
    let message = attrs["message"].as_str().unwrap();
    assert_eq!(
        message,
        h.last_error(),
        "the attribute holds the whole text"
    );
    assert!(message.starts_with(state.trim_end_matches('…')));
    // The topic and the MAC's echo are cut: the whole error is short, and says why.
    assert!(message.contains("(3000 characters) is not a MAC address"));
    assert!(message.len() < 400, "{}", message.len());
    // A text past the attribute's own bound is cut there.
    let long = "e".repeat(MAX_ATTRIBUTE_CHARS * 2);
    assert_eq!(
        cut(&long, MAX_ATTRIBUTE_CHARS).chars().count(),
        MAX_ATTRIBUTE_CHARS
    );
    // No error: the state says so, and the attribute is null.
    let mut h = Harness::connected(two_cameras());
    let ps = all_publishes(h.event(Event::Shutdown));
    assert_eq!(text(on(&ps, "solarcam/bridge/last_error")), "none");
    assert_eq!(
        json(on(&ps, "solarcam/bridge/last_error/attributes")),
        serde_json::json!({ "message": null })
    );
}

#[test]
fn reports_too_large_to_show_are_summarised_in_the_attributes_not_copied() {
    let mut h = Harness::connected(two_cameras());
    let filler = "y".repeat(20_000);
    let status = format!(r#"{{"mac":"{DRIVEWAY}","battery":77,"junk":"{filler}"}}"#);
    let ps = h.message("4GSolarCam/Status", status.clone());
    // The values are read...
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/battery")), "77");
    // ...but the attributes are a note, not 20 KB (Home Assistant's recorder refuses > 16 KiB).
    let attrs = on(&ps, "solarcam/5CC5638AE24C/status");
    assert!(attrs.payload.len() < 200);
    assert_eq!(
        json(attrs)["note"],
        format!(
            "the status was {} bytes, too large to show (at most 8192)",
            status.len()
        )
    );
    let alarm = format!(r#"{{"mac":"{DRIVEWAY}","type":"pir","junk":"{filler}"}}"#);
    let ps = h.message("4GSolarCam/Alarm", alarm);
    assert!(
        on(&ps, "solarcam/5CC5638AE24C/alarm/attributes")
            .payload
            .len()
            < 200
    );
    assert_eq!(
        json(on(&ps, "solarcam/5CC5638AE24C/alarm/event")),
        serde_json::json!({ "event_type": "pir", "alarm_on_for": 0.0, "since_previous_alarm": null })
    );
}

#[test]
fn up_to_256_dismissed_cameras_are_remembered_and_the_oldest_is_forgotten_first() {
    let macs: Vec<String> = (0..MAX_DISMISSED as u64 + 1)
        .map(|i| format!("{:012X}", 0x0200_0000_0000u64 + i))
        .collect();
    let listed: String = macs.iter().map(|m| format!("  - mac: \"{m}\"\n")).collect();
    let mut h = Harness::connected(config(&format!(
        "discover_unknown: true\ncameras:\n{listed}"
    )));
    // All taken out of the file at once, in MAC order: the first is the oldest dismissed.
    let actions = h.event(Event::ConfigReloaded(Box::new(config(
        "discover_unknown: true\ncameras: []\n",
    ))));
    let saved = saves(&actions)[0].clone();
    assert_eq!(saved.dismissed.len(), MAX_DISMISSED);
    let expected: Vec<Mac> = macs[1..].iter().map(|m| m.parse().unwrap()).collect();
    assert_eq!(saved.dismissed, expected);

    // The forgotten one may appear by itself again; the others may not.
    h.advance(NEW_CAMERA_EVERY);
    on(
        &h.message("4GSolarCam/Status", status(&macs[0])),
        "solarcam/020000000000/status",
    );
    h.advance(NEW_CAMERA_EVERY);
    assert!(h.message("4GSolarCam/Status", status(&macs[1])).is_empty());
    assert!(h
        .last_error()
        .contains("deleted in Home Assistant or removed from the file"));
}

#[test]
fn refused_cameras_are_logged_once_a_minute_and_all_counted() {
    let mut h = Harness::connected(config("discover_unknown: false\n"));
    let stranger = |i: u64| format!("{:012X}", 0x0200_0000_0000u64 + i);
    // What was last logged is the "Last error" sensor's value: a refusal held back leaves it.
    let logged = |h: &Harness| h.last_error().to_string();
    let mut refusals = 0;
    for minute in 0..3u64 {
        let start = h.now;
        h.message("4GSolarCam/Status", status(&stranger(minute * 100)));
        refusals += 1;
        let line = logged(&h);
        assert!(line.contains(&stranger(minute * 100)), "{line}");
        // The rest of the minute: counted, not logged.
        for i in 1..12 {
            h.now = start + Duration::from_secs(5 * i);
            h.message("4GSolarCam/Status", status(&stranger(minute * 100 + i)));
            refusals += 1;
            assert_eq!(logged(&h), line, "minute {minute}, +{}s", 5 * i);
        }
        assert_eq!(h.bridge.stats().get(Counter::RefusedCameras), refusals);
        h.now = start + REFUSALS_LOGGED_EVERY;
    }
}

//! What cameras send: snapshots, alarms, status, and which camera sent a payload that names none.

use super::*;

#[test]
fn snapshot_after_text_header_is_published_byte_exact() {
    let mut h = Harness::connected(two_cameras());
    let img = jpeg(1000);
    let mut payload = format!("mac={DRIVEWAY};").into_bytes();
    payload.extend_from_slice(&img);
    let ps = h.message("4GSolarCam/Snapshot", payload);
    let p = on(&ps, "solarcam/5CC5638AE24C/snapshot");
    assert_eq!(&p.payload[..], &img[..]);
    assert!(p.retain);
    assert_eq!(without_presence(ps).len(), 1);
}

#[test]
fn snapshot_over_the_limit_is_not_published() {
    let mut h = Harness::connected(config(&format!(
        "snapshot_max_bytes: 2048\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    let ps = h.message("4GSolarCam/Snapshot", jpeg(4000));
    assert!(without_presence(ps.clone()).is_empty(), "{ps:?}");
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
    // The next one, in bounds, goes through.
    let ps = h.message("4GSolarCam/Snapshot", jpeg(100));
    assert_eq!(without_presence(ps).len(), 1);
}

#[test]
fn malformed_snapshots_are_counted_and_the_next_one_still_works() {
    let mut h = Harness::connected(two_cameras());
    let img = jpeg(500);
    for bad in [&b""[..], b"garbage", &img[..img.len() - 10]] {
        let ps = h.message(
            "4GSolarCam/Snapshot/5CC5638AE24C",
            Bytes::copy_from_slice(bad),
        );
        assert!(ps.is_empty());
    }
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 3);
    let ps = h.message("4GSolarCam/Snapshot/5CC5638AE24C", img.clone());
    assert_eq!(
        &on(&ps, "solarcam/5CC5638AE24C/snapshot").payload[..],
        &img[..]
    );
}

#[test]
fn alarm_turns_on_then_off_after_the_configured_delay() {
    let mut h = Harness::connected(two_cameras());
    let alarm = format!(r#"{{"mac":"{DRIVEWAY}","type":"PIR","time":"2026-11-27 10:00:00"}}"#);
    let ps = h.message("4GSolarCam/Alarm", alarm.clone());
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "ON");
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24C/alarm/attributes")),
        alarm
    );
    // Woken no later than the alarm's end (diagnostics may come first).
    let start = h.now;
    assert!(h.bridge.poll_timeout().unwrap() <= start + Duration::from_secs(30));

    assert!(h.advance(Duration::from_secs(29)).is_empty());
    // A second alarm restarts the delay.
    h.message("4GSolarCam/Alarm", alarm);
    assert!(h.advance(Duration::from_secs(29)).is_empty());
    let ps = h.advance(Duration::from_secs(1));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "OFF");
    assert!(on(&ps, "solarcam/5CC5638AE24C/alarm").retain);
    // What is left to do is the camera falling asleep, 3 minutes after its last alarm.
    assert_eq!(
        h.bridge.poll_timeout(),
        Some(start + Duration::from_secs(29 + 180))
    );
}

#[test]
fn status_time_is_sent_once_a_second_and_unchanged_values_not_at_all() {
    let mut h = Harness::connected(two_cameras());
    let status = |n: u32| format!(r#"{{"devMac":"{BARN}","battery":87,"seq":{n}}}"#);
    let topics = |ps: Vec<Publish>| -> Vec<String> {
        without_presence(ps).into_iter().map(|p| p.topic).collect()
    };
    let first = topics(h.message("4GSolarCam/Status", status(1)));
    assert_eq!(
        first,
        [
            "solarcam/5CC5638AE24D/status",
            "solarcam/5CC5638AE24D/last_status",
            "solarcam/5CC5638AE24D/battery"
        ]
    );
    // Same second, same battery: only the report itself is new.
    h.wall += Duration::from_millis(400);
    let second = topics(h.message("4GSolarCam/Status", status(2)));
    assert_eq!(second, ["solarcam/5CC5638AE24D/status"]);
    // The next second has a new time.
    h.wall += Duration::from_millis(700);
    let ps = h.message("4GSolarCam/Status", status(3));
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/last_status")),
        "2023-11-14T22:13:21Z"
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/status")), status(3));
}

#[test]
fn status_publishes_battery_signal_voltage_and_announces_new_sensors() {
    let mut h = Harness::connected(two_cameras());
    let status = format!(
        r#"{{"devMac":"{BARN}","battery":87,"voltage":3950,"csq":20,"firmware":"V1.0.3"}}"#
    );
    let ps = h.message("4GSolarCam/Status", status.clone());
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/battery")), "87");
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/battery_voltage")),
        "3.95"
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/signal")), "-73");
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/status")), status);
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/last_status")),
        "2023-11-14T22:13:20Z"
    );
    let voltage = component(&ps, "solarcam_5cc5638ae24d", "battery_voltage");
    assert_eq!(voltage["unit_of_measurement"], "V");
    assert_eq!(voltage["entity_category"], "diagnostic");
    // Firmware reaches the device block.
    let device = device_config(&ps, "solarcam_5cc5638ae24d");
    assert_eq!(device["device"]["sw_version"], "V1.0.3");
    let battery = &device["components"]["battery"];
    assert_eq!(
        battery["json_attributes_topic"],
        "solarcam/5CC5638AE24D/status"
    );

    // The same status again announces nothing new.
    let ps = h.message("4GSolarCam/Status", status);
    assert!(ps.iter().all(|p| !p.topic.ends_with("/config")));
}

#[test]
fn our_own_status_request_echoed_back_is_not_a_report() {
    let mut h = Harness::connected(two_cameras());
    assert!(h
        .message("4GSolarCam/Status/5CC5638AE24C", "status")
        .is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 0);
}

#[test]
fn an_unknown_camera_appears_named_from_its_mac() {
    let mut h = Harness::connected(two_cameras());
    let ps = h.message("4GSolarCam/Alarm/112233445566", "{}");
    let cam = json(on(&ps, "homeassistant/device/solarcam_112233445566/config"));
    assert_eq!(cam["device"]["name"], "SC211 112233445566");
    assert_eq!(
        text(on(&ps, "solarcam/112233445566/alarm/attributes")),
        "{}"
    );
    assert_eq!(h.bridge.camera_count(), 3);
}

#[test]
fn unknown_cameras_are_ignored_when_discovery_of_them_is_off() {
    let mut h = Harness::connected(config(&format!(
        "discover_unknown: false\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    assert!(h.message("4GSolarCam/Alarm/112233445566", "{}").is_empty());
    assert!(h
        .message("solarcam/112233445566/command", "wake")
        .is_empty());
    assert_eq!(h.bridge.stats().get(Counter::RefusedCameras), 1);
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
}

#[test]
fn a_payload_without_mac_goes_to_the_only_configured_camera() {
    let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
    let ps = h.message("4GSolarCam/Snapshot", jpeg(10));
    on(&ps, "solarcam/5CC5638AE24C/snapshot");
}

#[test]
fn a_snapshot_without_mac_follows_its_alarm_but_not_after_the_window() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{BARN}"}}"#));
    h.advance(Duration::from_secs(3));
    let ps = h.message("4GSolarCam/Snapshot", jpeg(10));
    on(&ps, "solarcam/5CC5638AE24D/snapshot");

    h.advance(ATTRIBUTION_WINDOW + Duration::from_secs(1));
    assert!(h.message("4GSolarCam/Snapshot", jpeg(10)).is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Unattributed), 1);
}

#[test]
fn a_snapshot_without_mac_is_dropped_when_two_cameras_were_heard() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{BARN}"}}"#));
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    assert!(h.message("4GSolarCam/Snapshot", jpeg(10)).is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Unattributed), 1);
}

#[test]
fn a_camera_is_awake_after_a_message_and_asleep_after_its_timeout_keeping_its_values() {
    let cfg = config(&format!(
        "awake_timeout: 2m\ncameras:\n  - mac: {DRIVEWAY}\n  - mac: {BARN}\n    awake_timeout: 30s\n"
    ));
    let mut h = Harness::connected(cfg);
    let ps = h.message(
        "4GSolarCam/Status",
        format!(r#"{{"mac":"{BARN}","battery":50}}"#),
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/awake")), "awake");
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/last_seen")),
        "2023-11-14T22:13:20Z"
    );
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));

    // Barn's own timeout: 30 s.
    let ps = h.advance(Duration::from_secs(30));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/awake")), "asleep");
    assert!(ps.iter().all(|p| !p.topic.contains("5CC5638AE24C/awake")));
    // Driveway's: the global 2 minutes.
    let ps = h.advance(Duration::from_secs(90));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/awake")), "asleep");
    // Asleep is not unavailable: no availability change, values untouched.
    assert!(ps
        .iter()
        .all(|p| !p.topic.contains("availability") && !p.topic.ends_with("/battery")));
}

#[test]
fn a_payload_too_large_to_hold_an_allowed_snapshot_is_refused_unread() {
    let mut h = Harness::connected(config(&format!(
        "snapshot_max_bytes: 1024\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    let huge = Bytes::from(vec![b'f'; 1024 * 4 + (64 << 10) + 1]);
    assert!(h.message("4GSolarCam/Snapshot", huge).is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
    assert!(h.last_error().contains("not read"));
}

//! What automations build on: alarm events, the alarm's own picture, the archive's snapshots.

use super::*;

fn events(ps: &[Publish]) -> Vec<&Publish> {
    ps.iter()
        .filter(|p| p.topic.ends_with("/alarm/event"))
        .collect()
}

fn snapshot_event(h: &Harness, mac: &str) -> Event {
    let mut p = mac.as_bytes().to_vec();
    p.extend(jpeg(20));
    Event::Message {
        topic: "4GSolarCam/Snapshot".into(),
        payload: Bytes::from(p),
        retain: false,
        received: h.wall,
        ack: None,
    }
}

#[test]
fn the_alarm_feed_copy_is_held_and_released_with_the_cameras_event() {
    // Right after an announcement the event waits (Home Assistant subscribes to a new entity a
    // moment after its config, and after its start to the automations' topics); so does its copy
    // on the feed, and both go out together, event first.
    let mut h = Harness::just_connected(two_cameras());
    let ps = alarm(&mut h, BARN);
    assert!(ps
        .iter()
        .all(|p| !p.topic.ends_with("/alarm/event") && p.topic != "solarcam/alarms"));
    let held = h.advance(EVENT_SETTLE);
    let topics: Vec<&str> = held
        .iter()
        .filter(|p| p.topic.contains("alarm"))
        .map(|p| p.topic.as_str())
        .collect();
    assert_eq!(
        topics,
        ["solarcam/5CC5638AE24D/alarm/event", "solarcam/alarms"]
    );
    assert_eq!(
        json(held.iter().find(|p| p.topic == "solarcam/alarms").unwrap())["mac"],
        BARN
    );
}

#[test]
fn each_alarm_is_one_event_of_its_kind_with_the_alarm_as_attributes_never_retained() {
    let mut h = Harness::connected(two_cameras());
    let ps = h.message(
        "4GSolarCam/Alarm",
        format!(r#"{{"mac":"{DRIVEWAY}","type":"PIR","time":1700000000}}"#),
    );
    let e = events(&ps);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].topic, "solarcam/5CC5638AE24C/alarm/event");
    assert!(!e[0].retain);
    assert_eq!(e[0].qos, Qos::AtMostOnce);
    assert_eq!(
        json(e[0]),
        serde_json::json!({
            "event_type": "pir", "mac": DRIVEWAY, "type": "PIR", "time": 1700000000,
            "alarm_on_for": 0.0, "since_previous_alarm": null
        })
    );
    // The same event on the feed every camera shares, with the camera's MAC, not retained.
    let feed: Vec<_> = ps.iter().filter(|p| p.topic == "solarcam/alarms").collect();
    assert_eq!(feed.len(), 1);
    assert!(!feed[0].retain);
    let mut expected = json(e[0]);
    expected["mac"] = DRIVEWAY.into();
    assert_eq!(json(feed[0]), expected);
    // A second alarm while the first is on: another event (the binary sensor stays ON); it says
    // how long the alarm has been on and how long since the last one.
    h.advance(Duration::from_secs(12));
    let ps = h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    // The binary sensor is ON already: no new state for it.
    assert!(ps.iter().all(|p| p.topic != "solarcam/5CC5638AE24C/alarm"));
    let e = json(events(&ps)[0]);
    assert_eq!(e["event_type"], "alarm");
    assert_eq!(
        (&e["alarm_on_for"], &e["since_previous_alarm"]),
        (&12.0.into(), &12.0.into())
    );
    h.advance(Duration::from_secs(5));
    let e = json(events(&h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#)))[0]);
    assert_eq!(
        (&e["alarm_on_for"], &e["since_previous_alarm"]),
        (&17.0.into(), &5.0.into())
    );
    // Once the alarm is off, the next one starts a new period.
    h.advance(Duration::from_secs(30));
    let ps = h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    let e = json(events(&ps)[0]);
    assert_eq!(
        (&e["alarm_on_for"], &e["since_previous_alarm"]),
        (&0.0.into(), &30.0.into())
    );
    let state = on(&ps, "solarcam/5CC5638AE24C/alarm");
    assert_eq!((&state.payload[..], state.retain), (&b"ON"[..], true));
    // Not JSON: still an alarm, its text kept.
    let ps = h.message("4GSolarCam/Alarm/5CC5638AE24D", "motion!");
    assert_eq!(
        json(events(&ps)[0]),
        serde_json::json!({
            "event_type": "alarm", "raw": "motion!", "alarm_on_for": 0.0, "since_previous_alarm": null
        })
    );
}

#[test]
fn the_first_snapshot_within_the_window_after_an_alarm_is_the_alarms_picture() {
    let mut h = Harness::connected(config(&format!(
        "alarm_snapshot_window: 20s\ncameras:\n  - mac: {DRIVEWAY}\n  - mac: {BARN}\n"
    )));
    // A snapshot with no alarm before it: only the latest snapshot.
    let ps = publishes(h.event(snapshot_event(&h, DRIVEWAY)));
    assert!(ps.iter().all(|p| !p.topic.ends_with("/alarm/snapshot")));

    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    h.advance(Duration::from_secs(19));
    let ps = publishes(h.event(snapshot_event(&h, DRIVEWAY)));
    let picture = on(&ps, "solarcam/5CC5638AE24C/alarm/snapshot");
    assert_eq!(picture.payload.as_ref(), jpeg(20).as_slice());
    assert!(picture.retain);
    on(&ps, "solarcam/5CC5638AE24C/snapshot");
    // The next one is not: the alarm's picture stays what the alarm saw.
    let ps = publishes(h.event(snapshot_event(&h, DRIVEWAY)));
    assert!(ps.iter().all(|p| !p.topic.ends_with("/alarm/snapshot")));

    // Past the window, a snapshot is just a snapshot.
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{BARN}"}}"#));
    h.advance(Duration::from_secs(21));
    let ps = publishes(h.event(snapshot_event(&h, BARN)));
    assert!(ps.iter().all(|p| !p.topic.ends_with("/alarm/snapshot")));
}

#[test]
fn snapshots_go_to_the_archive_only_when_it_is_configured_marked_after_an_alarm() {
    let mut h = Harness::connected(two_cameras());
    let e = snapshot_event(&h, DRIVEWAY);
    assert!(archived(&h.event(e)).is_empty());

    let mut h = Harness::connected(config(&format!(
        "archive:\n  dir: /media/solarcam\ncameras:\n  - mac: {DRIVEWAY}\n    name: Front Drive\n"
    )));
    let e = snapshot_event(&h, DRIVEWAY);
    let actions = h.event(e);
    assert_eq!(
        archived(&actions),
        vec![&ArchiveRequest {
            camera: "front_drive".into(),
            jpeg: Bytes::from(jpeg(20)),
            taken: h.wall,
            alarm: false,
        }]
    );
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    let e = snapshot_event(&h, DRIVEWAY);
    assert!(archived(&h.event(e))[0].alarm);
}

#[test]
fn an_archive_failure_is_counted_and_shown_as_the_last_error() {
    let mut h = Harness::connected(two_cameras());
    let failure: Box<dyn std::error::Error + Send + Sync> =
        "archive: cannot write /x: disk full".into();
    let at_once = all_publishes(h.event(Event::ArchiveFailed(failure.into())));
    // Counted at once, published with the other diagnostics (at most every 5 s), not on its own.
    assert_eq!(at_once, Vec::new());
    assert_eq!(h.bridge.stats().get(Counter::ArchiveFailures), 1);
    let diagnostics = all_publishes({
        h.now += Duration::from_secs(5);
        h.bridge.handle_timeout(h.now);
        h.drain()
    });
    assert_eq!(
        text(on(&diagnostics, "solarcam/bridge/snapshots_not_archived")),
        "1"
    );
    assert_eq!(
        text(on(&diagnostics, "solarcam/bridge/last_error")),
        "archive: cannot write /x: disk full"
    );
}

#[test]
fn a_camera_removed_takes_its_alarm_triggers_with_it() {
    let mut h = Harness::connected(two_cameras());
    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n"
    ))))));
    // Its device config emptied: Home Assistant removes the device with its triggers.
    let p = on(&ps, "homeassistant/device/solarcam_5cc5638ae24d/config");
    assert!(p.payload.is_empty() && p.retain);
    assert!(ps
        .iter()
        .all(|p| p.topic != "solarcam/5CC5638AE24D/alarm/event"));
    on(&ps, "solarcam/5CC5638AE24D/alarm/snapshot");
}

fn alarm(h: &mut Harness, mac: &str) -> Vec<Publish> {
    h.message(
        "4GSolarCam/Alarm",
        format!(r#"{{"mac":"{mac}","type":"pir"}}"#),
    )
}

#[test]
fn an_alarm_right_after_the_announcement_waits_for_home_assistant_to_subscribe() {
    let mut h = Harness::just_connected(two_cameras());
    let ps = alarm(&mut h, DRIVEWAY);
    // The retained states go at once; the event (not retained) waits.
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "ON");
    assert!(events(&ps).is_empty());
    assert!(h.bridge.poll_timeout().unwrap() <= h.now + EVENT_SETTLE);
    h.advance(Duration::from_secs(1));
    let ps = alarm(&mut h, DRIVEWAY);
    assert!(events(&ps).is_empty());
    let ps = h.advance(EVENT_SETTLE - Duration::from_millis(1001));
    assert!(events(&ps).is_empty(), "not before the settle time");
    // Both, in order, when the settle time is over.
    let ps = h.advance(Duration::from_millis(1));
    assert_eq!(events(&ps).len(), 2);
    // Later ones go at once.
    assert_eq!(events(&alarm(&mut h, DRIVEWAY)).len(), 1);

    // Home Assistant's birth: it is (re)creating entities; events wait again.
    h.advance(REANNOUNCE_EVERY);
    h.message("homeassistant/status", "online");
    assert!(events(&alarm(&mut h, BARN)).is_empty());
    assert_eq!(events(&h.advance(EVENT_SETTLE)).len(), 1);
}

#[test]
fn a_new_cameras_first_alarm_reaches_its_new_event_entity() {
    let mut h = Harness::connected(config("discover_unknown: true\n"));
    // Its first message is the alarm: the camera is announced, and its event waits.
    let ps = alarm(&mut h, DRIVEWAY);
    assert!(component(&ps, "solarcam_5cc5638ae24c", "alarm_event").is_object());
    assert!(events(&ps).is_empty());
    let ps = h.advance(EVENT_SETTLE);
    let e = events(&ps);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].topic, "solarcam/5CC5638AE24C/alarm/event");
    // A camera added to the file: the same.
    let mut h = Harness::connected(two_cameras());
    let more = format!(
        "alarm_off_after: 30s\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n    area: Garden\n  - mac: {BARN}\n    name: Barn\n  - mac: 5CC5638AE24E\n    name: Gate\n"
    );
    h.event(Event::ConfigReloaded(Box::new(config(&more))));
    assert!(events(&alarm(&mut h, "5CC5638AE24E")).is_empty());
    assert_eq!(
        events(&alarm(&mut h, DRIVEWAY)).len(),
        1,
        "others are not held"
    );
    assert_eq!(events(&h.advance(EVENT_SETTLE)).len(), 1);
}

#[test]
fn a_flood_of_alarms_while_events_are_held_is_bounded() {
    let mut h = Harness::just_connected(two_cameras());
    let mut at_once = 0;
    for _ in 0..MAX_HELD_EVENTS + 10 {
        at_once += events(&alarm(&mut h, DRIVEWAY)).len();
    }
    // Past the bound they go at once rather than pile up.
    assert_eq!(at_once, 10);
    assert_eq!(events(&h.advance(EVENT_SETTLE)).len(), MAX_HELD_EVENTS);
}

#[test]
fn events_still_held_when_the_bridge_stops_go_out_before_offline() {
    let mut h = Harness::just_connected(two_cameras());
    assert!(events(&alarm(&mut h, DRIVEWAY)).is_empty());
    let ps = publishes(h.event(Event::Shutdown));
    let event = ps.iter().position(|p| p.topic.ends_with("/alarm/event"));
    let offline = ps
        .iter()
        .position(|p| p.topic == "solarcam/bridge/availability");
    assert!(event.is_some() && event < offline, "{ps:#?}");
}

/// The README's default, by its number: `alarm_snapshot_window` 30 s.
#[test]
fn by_default_a_snapshot_up_to_30_s_after_an_alarm_is_its_picture() {
    for (after, is_its_picture) in [(29, true), (31, false)] {
        let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
        h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
        h.advance(Duration::from_secs(after));
        let ps = publishes(h.event(snapshot_event(&h, DRIVEWAY)));
        let picture = ps
            .iter()
            .any(|p| p.topic == "solarcam/5CC5638AE24C/alarm/snapshot");
        assert_eq!(
            picture, is_its_picture,
            "a snapshot {after} s after the alarm"
        );
    }
}

#[test]
fn published_counts_every_publish_but_the_diagnostics_own() {
    // Held alarm events (released later), an awake camera's command, a sleeping camera's wake,
    // a snapshot, a status, and the diagnostics: "Published" is what went out, less the
    // diagnostics' own states.
    let mut h = Harness::new(two_cameras());
    let mut sent = Vec::new();
    sent.extend(h.event(Event::Connected(Link::Ha)));
    sent.extend(h.event(Event::Connected(Link::Camera)));
    let alarm = Event::Message {
        topic: "4GSolarCam/Alarm".into(),
        payload: Bytes::from(format!(r#"{{"mac":"{BARN}","type":"PIR"}}"#)),
        retain: false,
        received: h.wall,
        ack: None,
    };
    sent.extend(h.event(alarm));
    sent.extend(h.event(snapshot_event(&h, DRIVEWAY)));
    let status = Event::Message {
        topic: "4GSolarCam/Status".into(),
        payload: Bytes::from(format!(r#"{{"devMac":"{DRIVEWAY}","battery":80}}"#)),
        retain: false,
        received: h.wall,
        ack: None,
    };
    sent.extend(h.event(status));
    for (camera, word) in [(DRIVEWAY, "status"), (BARN, "reboot")] {
        let press = Event::Message {
            topic: format!("solarcam/{camera}/command"),
            payload: Bytes::from(word),
            retain: false,
            received: h.wall,
            ack: None,
        };
        sent.extend(h.event(press));
    }
    h.now += EVENT_SETTLE + DIAGNOSTICS_EVERY;
    h.bridge.handle_timeout(h.now);
    sent.extend(h.drain());
    let all = all_publishes(sent.clone()).len() as u64;
    let counted = publishes(sent).len() as u64;
    assert!(all > counted, "the diagnostics were published too");
    assert!(counted > 20);
    assert_eq!(h.bridge.stats().get(Counter::Published), counted);
}

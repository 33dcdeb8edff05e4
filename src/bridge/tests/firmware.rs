//! What newer firmware adds: topics set in the camera's web page, the configuration-respond
//! topic, and the snapshot envelope's own facts (`devName`, `time`, `imageSize`).

use super::*;
use crate::protocol::CameraTopics;
use base64::Engine;

/// The vendor's sample (its MQTT application article), with a real image and the given facts.
fn envelope(mac: &str, jpeg: &[u8], time: u64, image_size: usize) -> String {
    let image = base64::engine::general_purpose::STANDARD.encode(jpeg);
    serde_json::json!({
        "ts": 1682336818966u64,
        "values": {
            "devName": "4G Solar-powered ANPR Camera",
            "devMac": mac,
            "file": "debug_202304240745431198T",
            "time": time,
            "imageSize": image_size,
            "image": format!("data:image/jpeg;base64,{image}"),
        }
    })
    .to_string()
}

/// The sample's `time`: the harnesses below run their clocks from a few seconds after it.
const TAKEN: u64 = 1682336743;

fn at_sample_time(config: Config) -> Harness {
    let mut h = Harness::connected(config);
    h.wall = SystemTime::UNIX_EPOCH + Duration::from_secs(TAKEN + 5);
    h
}

fn message_actions(h: &mut Harness, topic: &str, payload: impl Into<Bytes>) -> Vec<Action> {
    let e = Event::Message {
        topic: topic.to_string(),
        payload: payload.into(),
        retain: false,
        received: h.wall,
        ack: None,
    };
    h.event(e)
}

const ALL_CHANGED: &str = "camera_topics:
  snapshot: home/gate/snapshot
  status: home/+/status
  alarm: home/gate/alarm
  config_request: home/gate/config/request
  config_respond: home/gate/config/respond
";

#[test]
fn every_kind_is_read_on_the_topic_the_web_page_set_and_not_on_the_default() {
    let mut h = Harness::new(config(&format!(
        "{ALL_CHANGED}cameras:\n  - mac: {DRIVEWAY}\n    name: Gate\n"
    )));
    h.event(Event::Connected(Link::Ha));
    let actions = h.event(Event::Connected(Link::Camera));
    assert!(actions.contains(&Action::Subscribe {
        link: Link::Camera,
        filters: [
            "home/gate/snapshot",
            "home/gate/snapshot/+",
            "home/+/status",
            "home/+/status/+",
            "home/gate/alarm",
            "home/gate/alarm/+",
            "home/gate/config/respond",
            "home/gate/config/respond/+",
        ]
        .map(String::from)
        .to_vec()
    }));
    h.now += EVENT_SETTLE;
    h.bridge.handle_timeout(h.now);
    h.drain();

    let img = jpeg(300);
    let ps = h.message("home/gate/snapshot", img.clone());
    assert_eq!(
        &on(&ps, "solarcam/5CC5638AE24C/snapshot").payload[..],
        &img[..]
    );
    let ps = h.message("home/gate/alarm", "{}");
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "ON");
    let ps = h.message("home/5CC5638AE24C/status", r#"{"battery": 71}"#);
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/battery")), "71");
    let ps = h.message("home/gate/config/respond", r#"{"result":"ok"}"#);
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24C/config_answer/attributes")),
        r#"{"result":"ok"}"#
    );
    // The old topics and the camera's own request topic are not the bridge's to read.
    for topic in [
        "4GSolarCam/Snapshot",
        "4GSolarCam/Alarm",
        "home/gate/config/request",
    ] {
        let ps = h.message(topic, jpeg(10));
        assert!(ps.is_empty(), "{topic}: {ps:?}");
    }
    // Commands keep their documented topics.
    let ps = h.message("solarcam/5CC5638AE24C/command", "wake");
    assert_eq!(ps[0].topic, "4GSolarCam/Wake/5CC5638AE24C");
}

#[test]
fn a_change_of_camera_topics_in_the_file_moves_the_subscriptions() {
    let mut h = Harness::connected(two_cameras());
    let new = config(&format!(
        "{ALL_CHANGED}cameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n    area: Garden\n  - mac: {BARN}\n    name: Barn\n"
    ));
    let actions = h.event(Event::ConfigReloaded(Box::new(new)));
    assert!(actions.contains(&Action::Unsubscribe {
        link: Link::Camera,
        filters: CameraTopics::under("4GSolarCam").filters()
    }));
    assert!(actions.iter().any(|a| matches!(a,
        Action::Subscribe { link: Link::Camera, filters } if filters[0] == "home/gate/snapshot")));
}

#[test]
fn the_configuration_answer_is_shown_whole_and_never_acted_on() {
    let mut h = Harness::connected(two_cameras());
    let answer = format!(r#"{{"devMac":"{BARN}","result":"ok","reboot":true}}"#);
    let actions = message_actions(&mut h, "4GSolarCam/ConfigRespond", answer.clone());
    // Nothing goes to the cameras, whatever it says.
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Publish(p) if p.link == Link::Camera)),
        "{actions:?}"
    );
    let ps = publishes(actions);
    // Added to the device config, republished whole with the others unchanged.
    let device = device_config(&ps, "solarcam_5cc5638ae24d");
    assert_eq!(
        device["components"].as_object().unwrap().len(),
        COMPONENTS_PER_CAMERA + 1
    );
    let entity = &device["components"]["config_answer"];
    assert_eq!(entity["platform"], "sensor");
    assert_eq!(entity["entity_category"], "diagnostic");
    assert_eq!(entity["device_class"], "timestamp");
    assert_eq!(entity["state_topic"], "solarcam/5CC5638AE24D/config_answer");
    assert_eq!(
        entity["json_attributes_topic"],
        "solarcam/5CC5638AE24D/config_answer/attributes"
    );
    let attrs = on(&ps, "solarcam/5CC5638AE24D/config_answer/attributes");
    assert_eq!(text(attrs), answer);
    assert!(attrs.retain);
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/config_answer")),
        "2023-11-14T22:13:20Z"
    );

    // A second answer is only its state: the entity exists. Text that is not JSON is shown too.
    h.advance(Duration::from_secs(1));
    let ps = h.message("4GSolarCam/ConfigRespond/5CC5638AE24D", "OK reboot");
    assert!(!ps.iter().any(|p| p.topic.ends_with("/config")), "{ps:?}");
    assert_eq!(
        json(on(&ps, "solarcam/5CC5638AE24D/config_answer/attributes")),
        serde_json::json!({"raw": "OK reboot"})
    );
    // Sized as a status is: a stranger's 100 KB is refused unread.
    let big = format!(r#"{{"mac":"{BARN}","x":"{}"}}"#, "a".repeat(100_000));
    assert!(h.message("4GSolarCam/ConfigRespond", big).is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
}

#[test]
fn the_vendors_sample_envelope_is_shown_byte_exact_and_names_an_unlisted_camera() {
    let mut h = at_sample_time(two_cameras());
    let img = jpeg(400);
    let ps = h.message(
        "4GSolarCam/Snapshot",
        envelope("5CC5638AE729", &img, TAKEN, img.len()),
    );
    assert_eq!(
        &on(&ps, "solarcam/5CC5638AE729/snapshot").payload[..],
        &img[..]
    );
    let device = &device_config(&ps, "solarcam_5cc5638ae729")["device"];
    assert_eq!(device["name"], "4G Solar-powered ANPR Camera 5CC5638AE729");
    assert_eq!(device["model"], "4G Solar-powered ANPR Camera");
    // Remembered: after a restart it is not "SC211 …" again until its next picture.
    let saved = h.bridge.saved();
    assert_eq!(
        saved.dev_names[&"5CC5638AE729".parse::<Mac>().unwrap()],
        "4G Solar-powered ANPR Camera"
    );
    let mut again = Bridge::new(two_cameras());
    again.restore(saved);
    let cam = &again.cameras[&"5CC5638AE729".parse::<Mac>().unwrap()];
    assert_eq!(cam.name(), "4G Solar-powered ANPR Camera 5CC5638AE729");
}

#[test]
fn a_listed_cameras_name_stays_the_users_and_its_model_is_the_dev_name() {
    let mut h = at_sample_time(two_cameras());
    let img = jpeg(50);
    let ps = h.message(
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &img, TAKEN, img.len()),
    );
    let device = &device_config(&ps, "solarcam_5cc5638ae24c")["device"];
    assert_eq!(device["name"], "Driveway");
    assert_eq!(device["model"], "4G Solar-powered ANPR Camera");
    // The same name again announces nothing.
    let ps = h.message(
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &img, TAKEN + 1, img.len()),
    );
    assert!(!ps.iter().any(|p| p.topic.ends_with("/config")), "{ps:?}");
}

#[test]
fn a_jpeg_that_is_not_its_image_size_is_refused_and_the_last_picture_stays() {
    let mut h = at_sample_time(two_cameras());
    let img = jpeg(200);
    for said in [img.len() + 1, img.len() - 1, 20941] {
        let ps = h.message("4GSolarCam/Snapshot", envelope(DRIVEWAY, &img, TAKEN, said));
        assert!(ps.is_empty(), "{ps:?}");
    }
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 3);
    assert!(
        h.last_error().contains("imageSize says 20941"),
        "{}",
        h.last_error()
    );
}

#[test]
fn a_picture_is_filed_by_when_it_was_taken_and_a_late_one_does_not_replace_the_one_shown() {
    let mut h = at_sample_time(config(&format!(
        "archive:\n  dir: /media/solarcam\ncameras:\n  - mac: {DRIVEWAY}\n    name: Gate\n"
    )));
    let newer = jpeg(30);
    let actions = message_actions(
        &mut h,
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &newer, TAKEN, newer.len()),
    );
    assert_eq!(
        archived(&actions)[0].taken,
        SystemTime::UNIX_EPOCH + Duration::from_secs(TAKEN)
    );
    on(&publishes(actions), "solarcam/5CC5638AE24C/snapshot");

    // Taken 90 s before the one shown, delivered now: archived under its own time, not shown.
    h.advance(Duration::from_secs(60));
    let older = jpeg(40);
    let actions = message_actions(
        &mut h,
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &older, TAKEN - 90, older.len()),
    );
    let filed = archived(&actions);
    assert_eq!(
        filed[0].taken,
        SystemTime::UNIX_EPOCH + Duration::from_secs(TAKEN - 90)
    );
    assert_eq!(filed[0].jpeg, Bytes::from(older));
    let ps = publishes(actions);
    assert!(!ps.iter().any(|p| p.topic.ends_with("/snapshot")), "{ps:?}");
}

#[test]
fn the_alarms_picture_counts_from_when_it_was_taken_not_when_it_arrived() {
    let mut h = at_sample_time(two_cameras());
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    let alarm_at = TAKEN + 5;
    // Arrives 60 s later (past the 30 s window), taken 2 s after the alarm: the alarm's.
    h.advance(Duration::from_secs(60));
    let img = jpeg(60);
    let ps = h.message(
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &img, alarm_at + 2, img.len()),
    );
    on(&ps, "solarcam/5CC5638AE24C/alarm/snapshot");

    // Taken 45 s after the next alarm, arriving 60 s after it: not the alarm's.
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    let alarm_at = TAKEN + 65;
    h.advance(Duration::from_secs(60));
    let ps = h.message(
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &img, alarm_at + 45, img.len()),
    );
    assert!(
        !ps.iter().any(|p| p.topic.ends_with("/alarm/snapshot")),
        "{ps:?}"
    );
    on(&ps, "solarcam/5CC5638AE24C/snapshot");
}

#[test]
fn a_time_from_a_clock_never_set_is_ignored_with_one_warning_per_camera() {
    let mut h = at_sample_time(config(&format!(
        "archive:\n  dir: /media/solarcam\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    let img = jpeg(30);
    for (time, shown) in [(0, true), (TAKEN + 3600, true), (TAKEN - 8 * 86400, true)] {
        let actions = message_actions(
            &mut h,
            "4GSolarCam/Snapshot",
            envelope(DRIVEWAY, &img, time, img.len()),
        );
        // Filed by arrival, and shown: an implausible time orders nothing.
        assert_eq!(archived(&actions)[0].taken, h.wall, "{time}");
        let ps = publishes(actions);
        assert_eq!(
            ps.iter().any(|p| p.topic.ends_with("/snapshot")),
            shown,
            "{time}"
        );
    }
    let mac: Mac = DRIVEWAY.parse().unwrap();
    // Said once: a further implausible time is not said again.
    assert!(!h.bridge.cameras.get_mut(&mac).unwrap().warn_clock_once());
    // A few minutes off is a clock that is set: taken as told.
    let actions = message_actions(
        &mut h,
        "4GSolarCam/Snapshot",
        envelope(DRIVEWAY, &img, TAKEN + 5 + 120, img.len()),
    );
    assert_eq!(
        archived(&actions)[0].taken,
        SystemTime::UNIX_EPOCH + Duration::from_secs(TAKEN + 125)
    );
}

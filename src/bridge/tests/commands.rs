//! Button presses: sent at once to an awake camera, queued for a sleeping one, wakes retried.

use super::*;

#[test]
fn buttons_send_the_camera_command_on_its_topic() {
    let mut h = Harness::connected(two_cameras());
    // Awake: it just reported.
    h.message("4GSolarCam/Status/5CC5638AE24C", "{}");
    let cases = [
        ("wake", "4GSolarCam/Wake/5CC5638AE24C"),
        ("status", "4GSolarCam/Status/5CC5638AE24C"),
        ("reboot", "4GSolarCam/Config/5CC5638AE24C"),
        ("shutdown", "4GSolarCam/Config/5CC5638AE24C"),
        ("upgrade", "4GSolarCam/Config/5CC5638AE24C"),
    ];
    for (word, topic) in cases {
        let ps = h.message("solarcam/5CC5638AE24C/command", word);
        assert_eq!(
            ps,
            vec![Publish {
                link: Link::Camera,
                topic: topic.into(),
                payload: Bytes::from(word),
                qos: Qos::AtLeastOnce,
                retain: false
            }]
        );
    }
    assert!(h
        .message("solarcam/5CC5638AE24C/command", "explode")
        .is_empty());
    assert_eq!(h.bridge.stats().get(Counter::Rejected), 1);
}

fn commands_sent(ps: &[Publish]) -> Vec<(String, String)> {
    ps.iter()
        .filter(|p| p.link == Link::Camera)
        .map(|p| (p.topic.clone(), text(p).to_string()))
        .collect()
}

fn cmd(topic: &str, word: &str) -> (String, String) {
    (topic.to_string(), word.to_string())
}

#[test]
fn a_command_for_a_sleeping_camera_waits_for_it_to_wake() {
    let mut h = Harness::connected(two_cameras());
    let ps = h.message("solarcam/5CC5638AE24C/command", "reboot");
    // Wake goes out at once; reboot waits.
    assert_eq!(
        commands_sent(&ps),
        vec![cmd("4GSolarCam/Wake/5CC5638AE24C", "wake")]
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/pending_commands")), "1");
    let attrs = json(on(&ps, "solarcam/5CC5638AE24C/pending_commands/attributes"));
    assert_eq!(attrs["commands"], serde_json::json!(["reboot"]));
    // A second press of another command joins the queue without another wake.
    let ps = h.message("solarcam/5CC5638AE24C/command", "status");
    assert!(commands_sent(&ps).is_empty());
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/pending_commands")), "2");

    // The camera wakes and reports: the queue goes out in order.
    h.advance(Duration::from_secs(5));
    let ps = h.message("4GSolarCam/Status", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    assert_eq!(
        commands_sent(&ps),
        vec![
            cmd("4GSolarCam/Config/5CC5638AE24C", "reboot"),
            cmd("4GSolarCam/Status/5CC5638AE24C", "status")
        ]
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/pending_commands")), "0");
    // Awake now: the next press goes straight out.
    let ps = h.message("solarcam/5CC5638AE24C/command", "shutdown");
    assert_eq!(
        commands_sent(&ps),
        vec![cmd("4GSolarCam/Config/5CC5638AE24C", "shutdown")]
    );
}

#[test]
fn a_wake_is_retried_and_then_the_command_is_given_up_and_shown() {
    let cfg = config(&format!(
        "command_timeout: 20s\nwake_retries: 3\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    let mut h = Harness::connected(cfg);
    let ps = h.message("solarcam/5CC5638AE24C/command", "upgrade");
    assert_eq!(
        commands_sent(&ps),
        vec![cmd("4GSolarCam/Wake/5CC5638AE24C", "wake")]
    );
    for _ in 0..2 {
        let ps = h.advance(Duration::from_secs(20));
        assert_eq!(
            commands_sent(&ps),
            vec![cmd("4GSolarCam/Wake/5CC5638AE24C", "wake")]
        );
    }
    let ps = h.advance(Duration::from_secs(20));
    assert!(commands_sent(&ps).is_empty());
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/pending_commands")), "0");
    let attrs = json(on(&ps, "solarcam/5CC5638AE24C/pending_commands/attributes"));
    assert_eq!(
        attrs["last_error"],
        "SC211 5CC5638AE24C (5CC5638AE24C): upgrade not sent: the camera did not answer 3 wakes over 60s"
    );
    assert_eq!(
        h.bridge.stats().last_error.as_deref(),
        attrs["last_error"].as_str()
    );
    // Nothing more is tried.
    assert!(commands_sent(&h.advance(Duration::from_secs(600))).is_empty());
}

#[test]
fn queued_commands_are_saved_and_resumed_after_a_restart() {
    let mut h = Harness::connected(two_cameras());
    let actions = h.event(Event::Message {
        topic: "solarcam/5CC5638AE24D/command".into(),
        payload: Bytes::from_static(b"reboot"),
        retain: false,
        received: h.wall,
        ack: None,
    });
    let barn: Mac = BARN.parse().unwrap();
    let saved = actions
        .iter()
        .find_map(|a| match a {
            Action::SaveState(s) => Some(s.clone()),
            _ => None,
        })
        .expect("state saved");
    assert_eq!(saved.pending[&barn], vec![CameraCommand::Reboot]);

    // The bridge restarts with what it saved.
    let mut h = Harness::new(two_cameras());
    h.bridge.restore(saved);
    h.event(Event::Connected(Link::Ha));
    let ps = publishes(h.event(Event::Connected(Link::Camera)));
    assert_eq!(
        commands_sent(&ps),
        vec![cmd("4GSolarCam/Wake/5CC5638AE24D", "wake")]
    );
    let ps = h.message("4GSolarCam/Status/5CC5638AE24D", "{}");
    assert_eq!(
        commands_sent(&ps),
        vec![cmd("4GSolarCam/Config/5CC5638AE24D", "reboot")]
    );
}

/// The README's defaults, by their numbers: `command_timeout` 60 s, `wake_retries` 3.
#[test]
fn by_default_a_wake_waits_60_s_and_three_are_sent() {
    let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
    let wake = || vec![cmd("4GSolarCam/Wake/5CC5638AE24C", "wake")];
    assert_eq!(
        commands_sent(&h.message("solarcam/5CC5638AE24C/command", "reboot")),
        wake()
    );
    for _ in 0..2 {
        assert!(commands_sent(&h.advance(Duration::from_secs(59))).is_empty());
        assert_eq!(commands_sent(&h.advance(Duration::from_secs(1))), wake());
    }
    assert!(commands_sent(&h.advance(Duration::from_secs(59))).is_empty());
    let ps = h.advance(Duration::from_secs(1));
    assert!(commands_sent(&ps).is_empty());
    let attrs = json(on(&ps, "solarcam/5CC5638AE24C/pending_commands/attributes"));
    assert!(
        attrs["last_error"]
            .as_str()
            .unwrap()
            .ends_with("reboot not sent: the camera did not answer 3 wakes over 180s"),
        "{attrs}"
    );
}

#[test]
fn a_press_that_comes_with_the_end_of_the_awake_time_finds_the_camera_asleep() {
    // The press and the camera's Asleep timer are due at the same instant, the press handled
    // first: the camera is asleep for the press as for its sensor, so the reboot waits for a wake.
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Status/5CC5638AE24C", "{}");
    h.now += crate::config::DEFAULT_AWAKE_TIMEOUT;
    let ps = h.message("solarcam/5CC5638AE24C/command", "reboot");
    let topics: Vec<(&str, &[u8])> = ps
        .iter()
        .map(|p| (p.topic.as_str(), p.payload.as_ref()))
        .collect();
    assert!(
        topics.contains(&("solarcam/5CC5638AE24C/awake", b"asleep".as_slice())),
        "{topics:?}"
    );
    assert!(
        topics.contains(&("4GSolarCam/Wake/5CC5638AE24C", b"wake".as_slice())),
        "{topics:?}"
    );
    assert!(
        !topics
            .iter()
            .any(|(t, _)| *t == "4GSolarCam/Config/5CC5638AE24C"),
        "{topics:?}"
    );
}

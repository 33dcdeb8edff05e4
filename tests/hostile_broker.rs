//! The camera broker may be a public one: the attacks anyone who can publish there could try,
//! each against real Mosquitto brokers, with the outcome the bridge promises.

mod common;

use std::time::Instant;

use common::*;

const PASSWORD: &str = "hunter2-s3cret";

fn status(mac: &str, battery: u32) -> String {
    format!(r#"{{"mac":"{mac}","battery":{battery}}}"#)
}

fn two_broker_config(ha: &Mosquitto, cameras: &Mosquitto, extra: &str) -> String {
    format!(
        "mqtt:\n  url: {}\ncamera_mqtt:\n  url: {}\n{extra}\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n",
        ha.url(),
        cameras.url()
    )
}

/// Waits until nothing is retained on `topic`.
fn wait_cleared(port: u16, topic: &str) {
    let deadline = Instant::now() + WAIT;
    while retained(port, topic).is_some() {
        assert!(Instant::now() < deadline, "{topic} was never cleared");
    }
}

fn flood_random_macs(port: u16, n: u64) {
    let stranger = Peer::connect(port, &[]);
    for i in 0..n {
        let mac = format!("{:012X}", 0x0200_0000_0000u64 + i);
        stranger.publish("4GSolarCam/Status", status(&mac, 1), false);
    }
}

#[test]
fn strangers_flooding_random_macs_add_one_device_not_hundreds() {
    let ha_broker = Mosquitto::start();
    let cam_broker = Mosquitto::start();
    let config = two_broker_config(&ha_broker, &cam_broker, "discover_unknown: true");
    let (mut bridge, _ha) = start_bridge(&ha_broker, &config);
    bridge.wait_log(&["camera broker: subscribed"]);

    let started = Instant::now();
    flood_random_macs(cam_broker.port, 500);
    // Every one of the 500 is read: it either became a device or was refused. At most one
    // becomes a device per 10 s, however long the flood takes to arrive (the bound is computed
    // from the time it took, so a slow machine changes the figure, not the verdict).
    let deadline = Instant::now() + WAIT;
    let (devices, refused) = loop {
        let devices: Vec<String> = retained_under(ha_broker.port, "homeassistant/device/+/config")
            .into_keys()
            .filter(|t| !t.contains("5cc5638ae24c") && !t.contains("solarcam_bridge"))
            .collect();
        let refused: usize = retained(ha_broker.port, "solarcam/bridge/unlisted_cameras_refused")
            .map_or(0, |m| m.text().parse().unwrap());
        if devices.len() + refused == 500 {
            break (devices, refused);
        }
        assert!(
            Instant::now() < deadline,
            "{} devices + {refused} refused != 500",
            devices.len()
        );
    };
    let elapsed = started.elapsed();
    let allowed = 1 + elapsed.as_secs() as usize / 10;
    eprintln!(
        "{} device(s), {refused} refused, in {elapsed:?}",
        devices.len()
    );
    assert!(
        !devices.is_empty() && devices.len() <= allowed,
        "{} devices in {elapsed:?}: {devices:?}",
        devices.len()
    );
    // The first of the flood is the first added.
    assert_eq!(
        devices[0],
        "homeassistant/device/solarcam_020000000000/config"
    );
    let saved = wait_for_state(bridge.dir.path(), |s| {
        s["discovered"].as_array().map(Vec::len) == Some(devices.len())
    });
    assert_eq!(saved["discovered"][0], "020000000000");
    // Logged once a minute at most, not 499 times: the sensor has the count.
    let log = bridge.stop();
    let lines = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("which is not in the configuration"))
        .count();
    let allowed_lines = 1 + started.elapsed().as_secs() as usize / 60;
    assert!(
        (1..=allowed_lines).contains(&lines),
        "{lines} lines: {log:#?}"
    );
}

#[test]
fn on_a_separate_camera_broker_unlisted_cameras_are_ignored_by_default() {
    let ha_broker = Mosquitto::start();
    let cam_broker = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&ha_broker, &two_broker_config(&ha_broker, &cam_broker, ""));
    bridge.wait_log(&["unlisted cameras ignored"]);
    bridge.wait_log(&["camera broker: subscribed"]);
    flood_random_macs(cam_broker.port, 50);
    wait_retained_value(
        ha_broker.port,
        "solarcam/bridge/unlisted_cameras_refused",
        "50",
    );
    let devices = retained_under(ha_broker.port, "homeassistant/device/+/config");
    // The listed camera and the bridge, no stranger.
    assert_eq!(devices.len(), 2, "{:?}", devices.keys());
}

#[test]
fn a_20_mb_status_is_refused_unread_and_the_next_message_goes_through() {
    let broker = Mosquitto::start();
    let (mut bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    let pid = bridge.child.id();
    let before = proc_kb(pid, "VmHWM:");
    let camera = Peer::connect(broker.port, &[]);
    let huge = format!(
        r#"{{"mac":"{DRIVEWAY}","battery":5,"pad":"{}"}}"#,
        "x".repeat(20 << 20)
    );
    // QoS 1 to a bridge with a persistent session: the broker would redeliver it forever.
    camera.publish("4GSolarCam/Status", huge, false);
    bridge.wait_log(&[
        "-byte message; the bridge reads at most",
        "refused it unread",
    ]);
    bridge.wait_log(&["new session started"]);
    // Its subscriptions go out before it announces itself again: once that is seen, they are in.
    ha.wait_for("availability online again", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });
    camera.publish("4GSolarCam/Status", status(DRIVEWAY, 77), false);
    wait_retained_value(broker.port, "solarcam/5CC5638AE24C/battery", "77");

    let grew_kb = proc_kb(pid, "VmHWM:").saturating_sub(before);
    eprintln!("peak RSS grew by {grew_kb} kB for a 20 MB status");
    assert!(grew_kb < 4096, "peak RSS grew by {grew_kb} kB");
    let log = bridge.stop();
    let refusals = log
        .iter()
        .filter(|l| l.contains("refused it unread"))
        .count();
    assert_eq!(refusals, 1, "redelivered: {log:#?}");
}

#[test]
fn a_status_over_64_kib_but_under_the_packet_limit_is_refused_before_parsing() {
    let broker = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    let large = format!(
        r#"{{"mac":"{DRIVEWAY}","battery":5,"pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    camera.publish("4GSolarCam/Status", large, false);
    bridge.wait_log(&["4GSolarCam/Status: 1048", "rejected unread"]);
    wait_retained_value(broker.port, "solarcam/bridge/payloads_rejected", "1");
    assert!(retained(broker.port, "solarcam/5CC5638AE24C/battery").is_none());
}

#[test]
fn a_retained_command_left_on_the_broker_is_cleared_not_sent_to_the_camera() {
    let broker = Mosquitto::start();
    let attacker = Peer::connect(broker.port, &[]);
    attacker.publish("solarcam/5CC5638AE24C/command", "upgrade", true);
    wait_retained(broker.port, "solarcam/5CC5638AE24C/command");
    let mut camera = Peer::connect(broker.port, &["4GSolarCam/Config/+", "4GSolarCam/Wake/+"]);

    let (bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    bridge.wait_log(&["a retained command", "is not obeyed"]);
    wait_cleared(broker.port, "solarcam/5CC5638AE24C/command");

    // The camera wakes and reports; a real press reaches it, and is the first command it gets.
    camera.publish("4GSolarCam/Status", status(DRIVEWAY, 50), false);
    wait_retained_value(broker.port, "solarcam/5CC5638AE24C/awake", "awake");
    attacker.publish("solarcam/5CC5638AE24C/command", "reboot", false);
    let first = camera.wait_for("a command", |m| m.topic.starts_with("4GSolarCam/"));
    assert_eq!(
        (first.topic.as_str(), first.text()),
        ("4GSolarCam/Config/5CC5638AE24C", "reboot")
    );
}

#[test]
fn a_command_for_a_camera_the_bridge_does_not_know_is_not_forwarded() {
    let broker = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let mut camera = Peer::connect(broker.port, &["4GSolarCam/Config/+", "4GSolarCam/Wake/+"]);
    let press = Peer::connect(broker.port, &[]);
    press.publish("solarcam/0011AABBCCDD/command", "reboot", false);
    bridge.wait_log(&["reboot refused", "not one of the bridge's cameras"]);
    // A press for a known camera after it is the first thing on the camera topics.
    press.publish("solarcam/5CC5638AE24C/command", "wake", false);
    let first = camera.wait_for("a command", |m| m.topic.starts_with("4GSolarCam/"));
    assert_eq!(first.topic, "4GSolarCam/Wake/5CC5638AE24C");
    wait_retained_value(broker.port, "solarcam/bridge/payloads_rejected", "1");
}

#[test]
fn a_device_deleted_in_home_assistant_is_not_brought_back_by_its_camera() {
    let broker = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let camera = Peer::connect(broker.port, &[]);
    camera.publish("4GSolarCam/Status", status("0011AABBCCDD", 60), false);
    let config = "homeassistant/device/solarcam_0011aabbccdd/config";
    wait_retained(broker.port, config);

    // What Home Assistant does when the user deletes the device: empty its device config.
    let home_assistant = Peer::connect(broker.port, &[]);
    home_assistant.publish(config, "", true);
    bridge.wait_log(&["(0011AABBCCDD): deleted in Home Assistant"]);
    wait_cleared(broker.port, "solarcam/0011AABBCCDD/battery");

    camera.publish("4GSolarCam/Status", status("0011AABBCCDD", 61), false);
    bridge.wait_log(&["0011AABBCCDD", "list it to bring it back"]);
    assert!(retained(broker.port, config).is_none());
    wait_for_state(bridge.dir.path(), |saved| {
        saved["dismissed"] == serde_json::json!(["0011AABBCCDD"])
            && saved["discovered"] == serde_json::json!([])
    });
}

#[test]
fn a_password_in_the_url_never_reaches_the_terminal_or_home_assistant() {
    let broker = Mosquitto::start();
    let (mut bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    // check-config on a file with the password in a URL it cannot otherwise read.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        format!("mqtt:\n  url: wss://user:{PASSWORD}@broker.example.com/mqtt\n"),
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["check-config", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains("wss://***@broker.example.com"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");

    // The same edit to a running bridge: the problem sensor's attributes show the error.
    std::fs::write(
        &bridge.config,
        format!(
            "mqtt:\n  url: mqtt://user:{PASSWORD}@127.0.0.1:{}\n",
            broker.port
        ),
    )
    .unwrap();
    wait_retained_value(broker.port, "solarcam/bridge/config_problem", "ON");
    let attributes = wait_retained(broker.port, "solarcam/bridge/config_problem/attributes");
    assert!(
        attributes.text().contains("holds credentials"),
        "{}",
        attributes.text()
    );
    assert!(!attributes.text().contains(PASSWORD));
    let everything = retained_under(broker.port, "#");
    for (topic, m) in everything {
        assert!(
            !String::from_utf8_lossy(&m.payload).contains(PASSWORD),
            "{topic}"
        );
    }
    assert!(bridge.stop().iter().all(|l| !l.contains(PASSWORD)));
}

#[test]
fn the_example_mosquitto_acl_keeps_cameras_to_their_own_topics() {
    let acl = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/mosquitto/acl");
    let broker = Mosquitto::with_acl(
        &[
            ("camera", "c-pw"),
            ("bridge", "b-pw"),
            ("homeassistant", "h-pw"),
        ],
        std::path::Path::new(acl),
    );
    let config = format!(
        "mqtt:\n  url: {}\n  username: bridge\n  password: b-pw\ncameras:\n  - mac: {DRIVEWAY}\n",
        broker.url()
    );
    let mut ha = Peer::connect_as(
        broker.port,
        &["homeassistant/#", "solarcam/#"],
        Some(("homeassistant", "h-pw")),
    );
    let _bridge = BridgeProcess::start(&config);
    ha.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });
    let mut camera = Peer::connect_as(
        broker.port,
        &["4GSolarCam/Config/+", "4GSolarCam/Wake/+"],
        Some(("camera", "c-pw")),
    );

    // What a camera may do works end to end.
    camera.publish("4GSolarCam/Status", status(DRIVEWAY, 42), false);
    assert_eq!(ha.next_on("solarcam/5CC5638AE24C/battery").text(), "42");

    // What it may not: press a button, fake Home Assistant's birth, overwrite a state or a
    // discovery config. The broker drops each; the next real press is the first command.
    camera.publish("solarcam/5CC5638AE24C/command", "upgrade", false);
    camera.publish("solarcam/5CC5638AE24C/battery", "1", true);
    camera.publish(
        "homeassistant/device/solarcam_5cc5638ae24c/config",
        "",
        true,
    );
    ha.publish("solarcam/5CC5638AE24C/command", "reboot", false);
    let first = camera.wait_for("a command", |m| m.topic.starts_with("4GSolarCam/"));
    assert_eq!(
        (first.topic.as_str(), first.text()),
        ("4GSolarCam/Config/5CC5638AE24C", "reboot")
    );
    // A real report after them reaches Home Assistant through the bridge, so had the broker let
    // the forged ones through, they would have arrived first.
    camera.publish("4GSolarCam/Status", status(DRIVEWAY, 43), false);
    ha.wait_for("battery 43", |m| {
        m.topic == "solarcam/5CC5638AE24C/battery" && m.text() == "43"
    });
    let snapshot_config = "homeassistant/device/solarcam_5cc5638ae24c/config";
    let seen: Vec<&Msg> = ha
        .seen
        .iter()
        .filter(|m| m.topic == "solarcam/5CC5638AE24C/battery" || m.topic == snapshot_config)
        .collect();
    assert!(
        seen.iter()
            .all(|m| m.text() != "1" && !m.payload.is_empty()),
        "{seen:#?}"
    );
}

/// A valid JPEG of about `size` bytes: the sample with comment segments of padding.
fn big_jpeg(size: usize) -> Vec<u8> {
    let sample = jpeg();
    let mut j = vec![0xFF, 0xD8];
    let mut left = size.saturating_sub(sample.len());
    while left > 4 {
        let chunk = (left - 4).min(65_000);
        j.extend_from_slice(&[0xFF, 0xFE]);
        j.extend_from_slice(&((chunk + 2) as u16).to_be_bytes());
        j.extend(std::iter::repeat_n(b'x', chunk));
        left -= chunk + 4;
    }
    j.extend_from_slice(&sample[2..]);
    j
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn while_home_assistant_cannot_keep_up_camera_messages_wait_on_the_camera_broker() {
    let ha_broker = Mosquitto::start();
    let cam_broker = Mosquitto::start();
    let config = two_broker_config(&ha_broker, &cam_broker, "snapshot_max_bytes: 600000");
    let (bridge, _ha) = start_bridge(&ha_broker, &config);
    bridge.wait_log(&["camera broker: subscribed"]);
    let mut ha = Peer::connect(ha_broker.port, &["solarcam/+/snapshot"]);
    let pid = bridge.child.id();
    let before = proc_kb(pid, "VmHWM:");

    // Home Assistant's broker stops taking anything; the camera sends 100 MB of snapshots.
    signal(ha_broker.pid(), "STOP");
    let mut done = Peer::connect(cam_broker.port, &["test/done"]);
    let camera = Peer::connect(cam_broker.port, &[]);
    let snapshot = big_jpeg(500 << 10);
    for _ in 0..200 {
        camera.publish("4GSolarCam/Snapshot/5CC5638AE24C", snapshot.clone(), false);
    }
    camera.publish("test/done", "", false);
    // Every snapshot is at the camera broker; the bridge has stopped reading them.
    done.next_on("test/done");
    bridge.wait_log(&["Home Assistant broker is behind: leaving camera messages unread"]);
    let held = proc_kb(pid, "VmHWM:").saturating_sub(before);

    // Once Home Assistant's broker is back, all of them arrive, in full.
    signal(ha_broker.pid(), "CONT");
    for n in 0..200 {
        let m = ha.wait_for(&format!("snapshot {n}"), |m| {
            m.topic == "solarcam/5CC5638AE24C/snapshot"
        });
        assert_eq!(m.payload.len(), snapshot.len());
    }
    let grew = proc_kb(pid, "VmHWM:").saturating_sub(before);
    eprintln!(
        "peak RSS grew by {held} kB while held back, {grew} kB in all, for 100 MB of snapshots"
    );
    assert!(
        held < 32 << 10,
        "{held} kB held while Home Assistant's broker was stopped"
    );
    assert!(grew < 48 << 10, "{grew} kB");
}

#[test]
fn a_snapshot_larger_than_home_assistants_broker_takes_costs_one_reconnect_not_a_loop() {
    // Home Assistant's broker takes packets up to 100 kB; snapshot_max_bytes (1.9 MB) is above it.
    let ha_broker = Mosquitto::with_settings("max_packet_size 100000\n");
    let cam_broker = Mosquitto::start();
    let (mut bridge, _ha) =
        start_bridge(&ha_broker, &two_broker_config(&ha_broker, &cam_broker, ""));
    bridge.wait_log(&["camera broker: subscribed"]);
    let camera = Peer::connect(cam_broker.port, &[]);
    camera.publish(
        "4GSolarCam/Snapshot/5CC5638AE24C",
        big_jpeg(500 << 10),
        false,
    );
    bridge.wait_log(&["Home Assistant broker: connection to", "lost"]);
    bridge.wait_log(&["Home Assistant broker: connected to"]);
    wait_retained_value(ha_broker.port, "solarcam/bridge/availability", "online");

    // The next report goes through, and the refused snapshot was not sent again.
    camera.publish("4GSolarCam/Status", status(DRIVEWAY, 64), false);
    wait_retained_value(ha_broker.port, "solarcam/5CC5638AE24C/battery", "64");
    wait_retained_value(ha_broker.port, "solarcam/bridge/reconnects", "1");
    let log = bridge.stop();
    let connects = log
        .iter()
        .filter(|l| l.contains("Home Assistant broker: connected to"))
        .count();
    assert_eq!(connects, 2, "{log:#?}");
    assert!(retained(ha_broker.port, "solarcam/5CC5638AE24C/snapshot").is_none());
}

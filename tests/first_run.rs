//! A first run with nothing installed: the embedded broker, the virtual camera, `decode`, `demo`.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Bridge and virtual camera on the broker at `port`: the camera alarms once (with a snapshot),
/// is woken by the Wake button and reports its status. Returns what Home Assistant is left with.
fn scenario(port: u16, config: &str) -> BTreeMap<String, Vec<u8>> {
    let (_bridge, _ha) = start_bridge_on(port, config);
    let _camera = Simulator::start(port, DRIVEWAY, &["--once"]);
    wait_retained(port, "solarcam/5CC5638AE24C/snapshot");
    Peer::connect(port, &[]).publish("solarcam/5CC5638AE24C/command", "wake", false);
    wait_retained(port, "solarcam/5CC5638AE24C/battery");
    wait_retained(
        port,
        "homeassistant/sensor/solarcam_5cc5638ae24c/signal/config",
    );
    // The signal's state is the last thing a status publishes.
    wait_retained(port, "solarcam/5CC5638AE24C/signal");
    let mut all: BTreeMap<String, Vec<u8>> = retained_under(port, "#")
        .into_iter()
        .map(|(t, m)| (t, m.payload))
        .collect();
    // What carries the time of day differs from run to run; that it is there is enough.
    // So do the bridge's counters, which depend on when they were last published.
    for volatile in [
        "solarcam/5CC5638AE24C/last_status",
        "solarcam/5CC5638AE24C/last_seen",
        "solarcam/5CC5638AE24C/status",
        "solarcam/5CC5638AE24C/alarm/attributes",
        "solarcam/bridge/messages_received",
        "solarcam/bridge/messages_published",
        "solarcam/bridge/last_error",
    ] {
        assert!(all.remove(volatile).is_some(), "{volatile} missing");
    }
    all
}

/// Like `start_bridge`, for a broker known only by its port (the embedded one).
fn start_bridge_on(port: u16, config: &str) -> (BridgeProcess, ()) {
    let bridge = BridgeProcess::start(config);
    let deadline = Instant::now() + WAIT;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no broker on {port}:\n{}",
            bridge.log().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_retained(port, "solarcam/bridge/availability");
    bridge.wait_log(&["subscribed"]);
    (bridge, ())
}

#[test]
fn the_embedded_broker_gives_the_same_entities_and_states_as_mosquitto() {
    let cameras = format!("cameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n");
    let mosquitto = Mosquitto::start();
    let with_mosquitto = scenario(
        mosquitto.port,
        &format!("mqtt:\n  url: {}\n{cameras}", mosquitto.url()),
    );

    let port = free_port();
    let embedded = scenario(
        port,
        &format!("mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n{cameras}"),
    );

    assert_eq!(
        with_mosquitto.keys().collect::<Vec<_>>(),
        embedded.keys().collect::<Vec<_>>()
    );
    for (topic, payload) in &with_mosquitto {
        assert!(
            payload == &embedded[topic],
            "{topic}: {:?} with Mosquitto, {:?} embedded",
            String::from_utf8_lossy(payload),
            String::from_utf8_lossy(&embedded[topic])
        );
    }
    assert_eq!(embedded["solarcam/5CC5638AE24C/snapshot"], jpeg());
    assert_eq!(embedded["solarcam/5CC5638AE24C/battery"], b"88");
    assert_eq!(embedded["solarcam/5CC5638AE24C/alarm"], b"ON");
    assert!(embedded.contains_key("homeassistant/camera/solarcam_5cc5638ae24c/snapshot/config"));
}

#[test]
fn the_virtual_camera_sleeps_wakes_and_obeys_only_while_awake() {
    let broker = Mosquitto::start();
    let mut cams = Peer::connect(
        broker.port,
        &[
            "4GSolarCam/Status",
            "4GSolarCam/Alarm",
            "4GSolarCam/Snapshot",
        ],
    );
    let camera = Simulator::start(broker.port, DRIVEWAY, &["--awake-for", "1"]);
    let press = Peer::connect(broker.port, &[]);
    let ignored = |l: &str| l.contains("asleep: Status \"status\" ignored");
    press.publish("4GSolarCam/Status/5CC5638AE24C", "status", false);
    camera.wait_line("the ignored request", ignored);
    press.publish("4GSolarCam/Wake/5CC5638AE24C", "wake", false);
    let status = cams.next_on("4GSolarCam/Status").json();
    assert_eq!(status["mac"], DRIVEWAY);
    press.publish("4GSolarCam/Status/5CC5638AE24C", "status", false);
    cams.next_on("4GSolarCam/Status");
    press.publish("4GSolarCam/Config/5CC5638AE24C", "upgrade", false);
    assert_eq!(
        cams.next_on("4GSolarCam/Status").json()["firmware"],
        "V1.0.1-sim"
    );
    camera.wait_line("falling asleep", |l| l.ends_with(": asleep"));
    press.publish("4GSolarCam/Status/5CC5638AE24C", "status", false);
    // Asleep again: it says it ignored the request (the path that answers logs nothing of it).
    camera.wait_lines("the second ignored request", 2, ignored);
}

fn decode(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("decode")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decode_turns_every_saved_form_into_the_exact_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let img = jpeg();

    let b64 = b64(&img);
    let mut with_header = b"\x01\x00SC211\x005CC5638AE24C\x00".to_vec();
    with_header.extend_from_slice(&img);
    let header_hex: String = with_header.iter().map(|b| format!("{b:02X} ")).collect();
    let forms: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "raw.bin",
            with_header.clone(),
            "raw JPEG after a 21-byte header), camera 5CC5638AE24C",
        ),
        (
            "mqttx-hex.txt",
            header_hex.into_bytes(),
            "hex dump), camera 5CC5638AE24C",
        ),
        (
            "plain-hex.txt",
            hex(&img, "").into_bytes(),
            "hex dump), no camera MAC",
        ),
        (
            "spaced-hex.txt",
            hex(&img, " ").into_bytes(),
            "hex dump), no camera MAC",
        ),
        (
            "image.b64",
            b64.clone().into_bytes(),
            "base64), no camera MAC",
        ),
        (
            "payload.json",
            format!(r#"{{"mac":"5C:C5:63:8A:E2:4C","img":"{b64}"}}"#).into_bytes(),
            "JSON), camera 5CC5638AE24C",
        ),
    ];
    for (name, payload, says) in forms {
        let input = dir.path().join(name);
        std::fs::write(&input, &payload).unwrap();
        let out = dir.path().join(format!("{name}.jpg"));
        let (code, stdout, stderr) =
            decode(&[input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert_eq!(std::fs::read(&out).unwrap(), img, "{name}");
        assert!(
            stdout.contains(&format!("JPEG of {} bytes ({says}", img.len())),
            "{name}: {stdout}"
        );
    }

    // Standard input, and the default output name beside the input.
    let mut child = Command::new(bin())
        .current_dir(dir.path())
        .args(["decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), hex(&img, " ").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(dir.path().join("snapshot.jpg")).unwrap(), img);
    let (code, _, _) = decode(&[dir.path().join("raw.bin").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read(dir.path().join("raw.jpg")).unwrap(), img);
}

#[test]
fn decode_says_clearly_when_there_is_no_complete_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &jpeg()[..1000]).unwrap();
    let (code, _, stderr) = decode(&[cut.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        format!(
            "{}: 1000 bytes, the JPEG starting at byte 0 has no end (FF D9): it was cut short",
            cut.display()
        )
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let (code, _, stderr) = decode(&[text.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no JPEG in it"), "{stderr}");
    assert!(!dir.path().join("notes.jpg").exists());
}

#[test]
fn a_port_in_use_is_a_clear_error_that_suggests_using_that_broker() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut bridge = BridgeProcess::start(&format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n"
    ));
    let status = bridge.wait_exit(WAIT).expect("the bridge should stop");
    assert_eq!(status.code(), Some(1));
    let line = bridge.wait_log(&["port is in use"]);
    assert!(
        line.contains(&format!("set `mqtt: {{url: mqtt://127.0.0.1:{port}}}`")),
        "{line}"
    );
}

#[test]
fn the_embedded_broker_refuses_wrong_credentials() {
    let port = free_port();
    let bridge = BridgeProcess::start(&format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n  username: home\n  password: s3cret-pw\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    bridge.wait_log(&["Home Assistant broker: connected"]);

    let attempt = |user: &str, password: &str| {
        let mut opts =
            rumqttc::MqttOptions::new(format!("probe-{}", password.len()), "127.0.0.1", port);
        opts.set_credentials(user, password);
        let (_client, mut connection) = rumqttc::Client::new(opts, 4);
        match connection.iter().next().unwrap() {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack))) => Ok(ack.code),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    };
    let refused = attempt("home", "guess").unwrap_err();
    assert!(refused.contains("BadUserNamePassword"), "{refused}");
    assert_eq!(
        attempt("home", "s3cret-pw"),
        Ok(rumqttc::ConnectReturnCode::Success)
    );
    bridge.wait_log(&["refused: wrong username or password for \"home\""]);
    assert!(bridge
        .log()
        .iter()
        .all(|l| !l.contains("s3cret-pw") && !l.contains("guess")));
}

#[test]
fn demo_shows_entities_and_states_and_saves_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("latest.jpg");
    let out = Command::new(bin())
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--alarm-every",
            "1",
            "--for",
            "4",
            "--snapshot-file",
        ])
        .arg(&snapshot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "entity   camera.demo_camera ",
        "entity   sensor.demo_camera_battery ",
        "entity   button.demo_camera_reboot ",
        "press    button.demo_camera_wake",
        "state    Demo camera Battery: 88 %",
        "state    Demo camera Alarm: ON",
        &format!(
            "state    Demo camera: a 1946-byte JPEG, saved to {}",
            snapshot.display()
        ),
        "Add integration > MQTT",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    assert_eq!(std::fs::read(&snapshot).unwrap(), jpeg());
}

#[test]
fn demo_on_a_taken_port_suggests_another() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(bin())
        .args([
            "demo",
            "--for",
            "1",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("demo: port {port} on 127.0.0.1 is in use")),
        "{stderr}"
    );
    assert!(stderr.contains("--listen 127.0.0.1:"), "{stderr}");
}

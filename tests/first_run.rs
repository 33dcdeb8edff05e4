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
    wait_component(port, &node(DRIVEWAY), "signal");
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
    assert!(embedded.contains_key(&device_topic(&node(DRIVEWAY))));
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
    // Asleep, it ignores every command but wake, and says so.
    for (kind, word) in [
        ("Status", "status"),
        ("Config", "reboot"),
        ("Config", "upgrade"),
        ("Config", "shutdown"),
    ] {
        press.publish(&format!("4GSolarCam/{kind}/{DRIVEWAY}"), word, false);
        camera.wait_line(&format!("{word} ignored"), |l| {
            l.contains(&format!("asleep: {word} ignored (wake it first)"))
        });
    }
    press.publish(&format!("4GSolarCam/Wake/{DRIVEWAY}"), "wake", false);
    let status = cams.next_on("4GSolarCam/Status").json();
    assert_eq!(status["mac"], DRIVEWAY);
    // Nothing came before the wake's status (a reboot would have sent one), and the upgrade
    // sent while asleep was not done.
    assert_eq!(cams.seen.len(), 1, "{:?}", cams.seen);
    assert_eq!(status["firmware"], "V1.0.0-sim");
    press.publish(&format!("4GSolarCam/Status/{DRIVEWAY}"), "status", false);
    cams.next_on("4GSolarCam/Status");
    press.publish(&format!("4GSolarCam/Config/{DRIVEWAY}"), "upgrade", false);
    assert_eq!(
        cams.next_on("4GSolarCam/Status").json()["firmware"],
        "V1.0.1-sim"
    );
    // A command on another command's topic is not that command.
    press.publish(&format!("4GSolarCam/Status/{DRIVEWAY}"), "reboot", false);
    camera.wait_line("the misplaced command", |l| {
        l.contains("\"reboot\" on 4GSolarCam/Status/5CC5638AE24C is not a command; ignored")
    });
    camera.wait_line("falling asleep", |l| l.ends_with(": asleep"));
    press.publish(&format!("4GSolarCam/Status/{DRIVEWAY}"), "status", false);
    camera.wait_lines("the second ignored request", 2, |l| {
        l.contains("asleep: status ignored")
    });
}

#[test]
fn the_virtual_camera_takes_its_prefix_its_alarm_period_and_a_password_from_the_environment() {
    const PASSWORD: &str = "sim-pw-from-env";
    let broker = Mosquitto::with_password("cam", PASSWORD);
    let mut cams = Peer::connect_as(broker.port, &["Cams/#"], Some(("cam", PASSWORD)));
    let camera = Simulator::start_with_env(
        broker.port,
        BARN,
        &[
            "--prefix",
            "Cams",
            "--alarm-every",
            "1",
            "--username",
            "cam",
        ],
        &[("SOLARCAM_SIM_PASSWORD", PASSWORD)],
    );
    // An alarm then its snapshot, again and again, under the prefix given.
    for _ in 0..3 {
        assert_eq!(cams.next_on("Cams/Alarm").json()["mac"], BARN);
        let snapshot = cams.next_on("Cams/Snapshot");
        assert!(snapshot.payload.ends_with(&jpeg()));
    }
    // It listens under its prefix too.
    let press = Peer::connect_as(broker.port, &[], Some(("cam", PASSWORD)));
    press.publish(&format!("Cams/Config/{BARN}"), "upgrade", false);
    let upgraded = cams.wait_for("the upgrade's status", |m| {
        m.topic == "Cams/Status" && m.json()["firmware"] == "V1.0.1-sim"
    });
    assert_eq!(upgraded.json()["mac"], BARN);
    let log = camera.log();
    assert!(!log.contains(PASSWORD), "{log}");
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
    let mut bridge = BridgeProcess::start(&format!(
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
        .stop()
        .iter()
        .all(|l| !l.contains("s3cret-pw") && !l.contains("guess")));
}

#[test]
fn demo_shows_entities_and_states_and_saves_the_snapshot() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("latest.jpg");
    let expected = [
        "entity   camera.demo_camera ".to_string(),
        "entity   sensor.demo_camera_battery ".to_string(),
        "entity   button.demo_camera_reboot ".to_string(),
        "press    button.demo_camera_wake".to_string(),
        "state    Demo camera Battery: 88 %".to_string(),
        "state    Demo camera Alarm: ON".to_string(),
        "state    Demo camera Last alarm snapshot: a 1946-byte JPEG".to_string(),
        format!(
            "state    Demo camera: a 1946-byte JPEG, saved to {}",
            snapshot.display()
        ),
        "Add integration > MQTT".to_string(),
    ];
    // No `--for`: the demo runs until every line has shown, however long the chain (alarm,
    // snapshot, wake, status) takes on a loaded machine, and is then stopped as a user would.
    let mut demo = Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--alarm-every", "1"])
        .arg("--snapshot-file")
        .arg(&snapshot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(demo.stdout.take().unwrap());
    // A demo that never shows them all is stopped after a minute, so the test fails saying what
    // was missing instead of hanging.
    let pid = demo.id().to_string();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let guard = {
        let pid = pid.clone();
        std::thread::spawn(move || {
            if finished.recv_timeout(Duration::from_secs(60)).is_err() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        })
    };
    let mut seen = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if expected.iter().all(|e| seen.contains(e.as_str())) {
            break;
        }
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !seen.contains(e.as_str()))
        .collect();
    let _ = done.send(());
    guard.join().unwrap();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = demo.wait_with_output().unwrap();
    assert!(missing.is_empty(), "{missing:?} missing from:\n{seen}");
    assert!(
        out.status.success(),
        "Ctrl-C ends the demo cleanly: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
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

//! MQTT over WebSocket (`ws://`, `wss://` with a path), for either link, against a real broker
//! that serves it: aedes (tests/ws-broker, from npm; Debian's Mosquitto 2.0.11 cannot open a
//! WebSocket listener here). The same broker takes plain MQTT on another port, which the test's
//! own clients use.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

/// aedes, listening for plain MQTT and, at `/mqtt`, for MQTT over WebSocket (with TLS when
/// given a certificate directory); stopped when dropped.
struct WsBroker {
    child: Child,
    tcp: u16,
    ws: u16,
}

impl WsBroker {
    fn start(certs: Option<&Path>) -> WsBroker {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws-broker");
        assert!(
            Path::new(dir).join("node_modules/aedes").exists(),
            "the WebSocket broker is not installed: npm ci --prefix tests/ws-broker (scripts/test does)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(format!("{dir}/broker.js"))
            .args(["--path", "/mqtt"]);
        if let Some(c) = certs {
            cmd.arg("--cert")
                .arg(c.join("server.pem"))
                .arg("--key")
                .arg(c.join("server.key"));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node is needed for the WebSocket tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Vec<u16> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(ports.len(), 2, "the broker said {line:?}");
        WsBroker {
            child,
            tcp: ports[0],
            ws: ports[1],
        }
    }
}

impl Drop for WsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CAMERA: &str = "cameras:\n  - mac: 5CC5638AE24C\n    name: Driveway\n";

#[test]
fn home_assistants_broker_over_ws_with_a_path() {
    let ws = WsBroker::start(None);
    let mut ha = Peer::connect(ws.tcp, &["solarcam/#", "homeassistant/#"]);
    let _bridge = BridgeProcess::start(&format!(
        "mqtt:\n  url: ws://127.0.0.1:{}/mqtt\n{CAMERA}",
        ws.ws
    ));
    // Discovery, then availability, as over plain MQTT.
    ha.wait_for("discovery over WebSocket", |m| {
        m.topic == "homeassistant/device/solarcam_5cc5638ae24c/config"
    });
    ha.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });
    // A camera on the same broker (over plain MQTT): its status reaches Home Assistant's side.
    let camera = Peer::connect(ws.tcp, &[]);
    camera.publish(
        "4GSolarCam/Status",
        r#"{"devMac":"5CC5638AE24C","battery":71}"#,
        false,
    );
    let battery = ha.next_on("solarcam/5CC5638AE24C/battery");
    assert_eq!(battery.text(), "71");
}

#[test]
fn a_camera_broker_over_wss_under_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let cams = WsBroker::start(Some(certs.path()));
    let broker = Mosquitto::start();
    let mut ha = Peer::connect(broker.port, &["solarcam/#"]);
    let _bridge = BridgeProcess::start(&format!(
        "mqtt:\n  url: mqtt://127.0.0.1:{}\ncamera_mqtt:\n  url: wss://localhost:{}/mqtt\n  ca_file: {}\n{CAMERA}",
        broker.port,
        cams.ws,
        certs.path().join("ca.pem").display()
    ));
    ha.wait_for("the camera broker connected over wss", |m| {
        m.topic == "solarcam/bridge/camera_broker" && m.text() == "ON"
    });
    let mut camera = Peer::connect(cams.tcp, &["4GSolarCam/#"]);
    camera.publish(
        "4GSolarCam/Status",
        r#"{"devMac":"5CC5638AE24C","battery":64}"#,
        false,
    );
    assert_eq!(ha.next_on("solarcam/5CC5638AE24C/battery").text(), "64");
    // A press travels back over the same link.
    let press = Peer::connect(broker.port, &[]);
    press.publish("solarcam/5CC5638AE24C/command", "wake", false);
    let wake = camera.next_on("4GSolarCam/Wake/5CC5638AE24C");
    assert_eq!(wake.text(), "wake");
}

#[test]
fn a_wss_broker_whose_certificate_the_ca_did_not_sign_is_refused_naming_the_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let cams = WsBroker::start(Some(certs.path()));
    let broker = Mosquitto::start();
    let other = certs.path().join("other-ca.pem");
    let bridge = BridgeProcess::start(&format!(
        "mqtt:\n  url: mqtt://127.0.0.1:{}\ncamera_mqtt:\n  url: wss://localhost:{}/mqtt\n  ca_file: {}\n{CAMERA}",
        broker.port,
        cams.ws,
        other.display()
    ));
    let refused = format!(
        "camera broker: cannot connect to wss://localhost:{}/mqtt: TLS: the broker's certificate is not signed by the CA in {}",
        cams.ws,
        other.display()
    );
    let line = bridge.wait_log(&[&refused]);
    assert!(
        line.contains("set ca_file to the CA that signed it"),
        "{line}"
    );
    // Refused again at the next attempt, and never connected.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while bridge.log().iter().filter(|l| l.contains(&refused)).count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no second attempt:\n{}",
            bridge.log().join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let connected = format!("camera broker: connected to wss://localhost:{}", cams.ws);
    assert!(
        bridge.log().iter().all(|l| !l.contains(&connected)),
        "{}",
        bridge.log().join("\n")
    );
}

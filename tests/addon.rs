//! Add-on mode, on this machine: `solarcam-bridge container` with the Supervisor's environment, a
//! stand-in Supervisor (a real HTTP server) describing a password-protected Mosquitto, and the
//! options in `<data>/options.json`. The same run inside the image is tests/container.rs.

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

const TOKEN: &str = "addon-token-0123456789abcdef";
const PASSWORD: &str = "addons-password-XYZ";

fn addon(data: tempfile::TempDir, supervisor: &Supervisor) -> BridgeProcess {
    addon_with(data, supervisor, &[])
}

/// With more arguments for `container` (the shares' places).
fn addon_with(data: tempfile::TempDir, supervisor: &Supervisor, args: &[&str]) -> BridgeProcess {
    let mut cmd = Command::new(bin());
    cmd.args(["container", "--data"])
        .arg(data.path())
        .args(args)
        // Never the real /config of the machine running the tests.
        .args(["--config", "/nonexistent/config.yaml"])
        .env("SUPERVISOR_TOKEN", TOKEN)
        .env("SUPERVISOR_URL", supervisor.url())
        .env_remove("RUST_LOG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("NOTIFY_SOCKET");
    let options = data.path().join("options.json");
    BridgeProcess::spawn(cmd, data, options)
}

#[test]
fn an_addon_finds_the_broker_through_the_supervisor_and_its_cameras_appear() {
    let broker = Mosquitto::with_password("addons", PASSWORD);
    let supervisor = Supervisor::start(TOKEN, mqtt_service(broker.port, "addons", PASSWORD));
    let data = tempfile::tempdir().unwrap();
    let options = json!({
        "cameras": [{"mac": "5c:c5:63:8a:e2:4c", "name": "Driveway", "area": "Garden"}],
        "alarm_off_after": 30,
        "awake_timeout": 180,
        "log_level": "debug"
    });
    std::fs::write(data.path().join("options.json"), options_json(&options)).unwrap();
    let ha = Peer::connect_as(broker.port, &["solarcam/#"], Some(("addons", PASSWORD)));
    let mut bridge = addon(data, &supervisor);
    let mut ha = ha;
    ha.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });

    // The Supervisor was asked, with the add-on's token, for the MQTT service.
    let requests = supervisor.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /services/mqtt HTTP/1."),
        "{requests:?}"
    );
    assert!(
        requests[0].contains(&format!("Authorization: Bearer {TOKEN}\r\n")),
        "{requests:?}"
    );

    // The listed camera is a device, with the name and area of the options.
    let config = wait_retained_as(
        broker.port,
        &device_topic(&node(DRIVEWAY)),
        ("addons", PASSWORD),
    );
    assert_eq!(config.json()["device"]["name"], "Driveway");
    assert_eq!(config.json()["device"]["suggested_area"], "Garden");

    // An unlisted camera on Home Assistant's broker appears by itself, and is remembered in the
    // add-on's /data.
    let _camera = Simulator::start(
        broker.port,
        BARN,
        &["--username", "addons", "--password", PASSWORD, "--once"],
    );
    ha.wait_for("the unlisted camera's alarm", |m| {
        m.topic == format!("solarcam/{BARN}/alarm") && m.text() == "ON"
    });
    wait_for_file_containing(&bridge.dir.path().join("state.json"), BARN);

    bridge.signal("TERM");
    let status = bridge.wait_exit(WAIT).expect("stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    let log = bridge.log().join("\n");
    assert!(log.contains("Home Assistant add-on mode"), "{log}");
    // Logged to stdout as well as nothing secret anywhere.
    for secret in [TOKEN, PASSWORD] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn a_bad_option_is_shown_with_its_line_and_nothing_starts() {
    let supervisor = Supervisor::start(TOKEN, mqtt_service(free_port(), "addons", PASSWORD));
    let data = tempfile::tempdir().unwrap();
    let options = json!({
        "cameras": [
            {"mac": "5CC5638AE24C", "name": "Driveway"},
            {"mac": "5CC5", "name": "Barn"}
        ],
        "alarm_off_after": 30
    });
    let text = options_json(&options);
    std::fs::write(data.path().join("options.json"), &text).unwrap();
    let path = data.path().join("options.json").display().to_string();
    let line = 1 + text.lines().position(|l| l.contains("\"5CC5\"")).unwrap();
    assert_eq!(line, 9, "the file as written:\n{text}");
    let mut bridge = addon(data, &supervisor);
    let status = bridge.wait_exit(WAIT).expect("exits");
    assert!(!status.success());
    let log = bridge.log().join("\n");
    // The line of the second camera's "mac" in the indented file.
    assert!(
        log.contains(&format!(
            "{path}:{line}: camera \"Barn\": mac \"5CC5\" is not a MAC address"
        )),
        "{log}"
    );
    assert!(log.contains("correct the add-on's options"), "{log}");
    assert!(!log.contains(PASSWORD) && !log.contains(TOKEN), "{log}");
}

#[test]
fn a_refused_token_is_said_plainly_and_not_shown() {
    let supervisor = Supervisor::start("another-token", json!({}));
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("options.json"), "{\"cameras\": []}").unwrap();
    let mut bridge = addon(data, &supervisor);
    // At once: a refused token is not tried again.
    let status = bridge.wait_exit(WAIT).expect("exits");
    assert!(!status.success());
    let log = bridge.log().join("\n");
    assert!(
        log.contains("refused the add-on's token (SUPERVISOR_TOKEN): HTTP 401"),
        "{log}"
    );
    assert_eq!(supervisor.requests.lock().unwrap().len(), 1);
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn an_addon_with_the_archive_on_keeps_snapshots_in_home_assistants_media_folder() {
    let broker = Mosquitto::with_password("addons", PASSWORD);
    let supervisor = Supervisor::start(TOKEN, mqtt_service(broker.port, "addons", PASSWORD));
    let data = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let options = json!({
        "cameras": [{"mac": "5c:c5:63:8a:e2:4c", "name": "Front drive"}],
        "alarm_off_after": 30,
        "awake_timeout": 180,
        "log_level": "debug",
        "archive": true,
        "archive_keep_days": 7,
        "archive_max_size_mb": 100
    });
    std::fs::write(data.path().join("options.json"), options_json(&options)).unwrap();
    let mut ha = Peer::connect_as(broker.port, &["solarcam/#"], Some(("addons", PASSWORD)));
    let media_dir = media.path().display().to_string();
    let _bridge = addon_with(data, &supervisor, &["--media", &media_dir]);
    ha.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });
    let camera = Peer::connect_as(broker.port, &[], Some(("addons", PASSWORD)));
    let img = jpeg();
    camera.publish("4GSolarCam/Snapshot/5CC5638AE24C", img.clone(), false);
    // <media>/solarcam/<camera>/<day>/<time>.jpg: what Home Assistant's Media browser shows.
    let folder = media.path().join("solarcam/front_drive");
    let file = wait_for_archived_jpeg(&folder);
    assert_eq!(std::fs::read(&file).unwrap(), img);
}

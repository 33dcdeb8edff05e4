//! The bridge as a long-running service: the camera list follows the file, bad edits keep the
//! last good configuration, no ghosts survive a restart, and systemd hears how it is doing.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn one_camera(broker: &Mosquitto) -> String {
    format!(
        "mqtt:\n  url: {}\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n",
        broker.url()
    )
}

fn two_cameras(broker: &Mosquitto, first_name: &str) -> String {
    format!(
        "mqtt:\n  url: {}\ncameras:\n  - mac: {DRIVEWAY}\n    name: {first_name}\n  - mac: {BARN}\n    name: Barn\n",
        broker.url()
    )
}

/// Saves the way vim and most editors do: a new file renamed over the old one.
fn save_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Saves the way `>` or nano do: truncate and rewrite the same file.
fn save_in_place(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const BARN_CAMERA: &str = "homeassistant/device/solarcam_5cc5638ae24d/config";
const DRIVEWAY_CAMERA: &str = "homeassistant/device/solarcam_5cc5638ae24c/config";

#[test]
fn cameras_are_added_renamed_and_removed_by_editing_the_file() {
    let broker = Mosquitto::start();
    let (bridge, mut ha) = start_bridge(&broker, &one_camera(&broker));
    let port = broker.port;
    assert!(retained(port, BARN_CAMERA).is_none());

    // Added, file rewritten in place.
    save_in_place(&bridge.config, &two_cameras(&broker, "Driveway"));
    let barn = ha.next_on(BARN_CAMERA).json();
    assert_eq!(barn["device"]["name"], "Barn");
    assert_eq!(retained(port, BARN_CAMERA).unwrap().json(), barn);

    // Renamed, file replaced by rename: same unique_id and topic, new name, nothing deleted.
    // (Barn's states close its announcement; Driveway's close the rename's.)
    ha.next_on("solarcam/5CC5638AE24D/pending_commands");
    let seen = ha.seen.len();
    save_by_rename(&bridge.config, &two_cameras(&broker, "Front drive"));
    let renamed = ha.next_on(DRIVEWAY_CAMERA).json();
    assert_eq!(renamed["device"]["name"], "Front drive");
    assert_eq!(
        renamed["components"]["snapshot"]["unique_id"],
        "solarcam_5cc5638ae24c_snapshot"
    );
    ha.next_on("solarcam/5CC5638AE24C/pending_commands");
    assert!(
        ha.seen[seen..].iter().all(|m| !m.payload.is_empty()),
        "a rename deleted something"
    );
    assert!(
        ha.seen[seen..]
            .iter()
            .all(|m| !m.topic.contains("5cc5638ae24d")),
        "Barn was touched"
    );

    // Removed: Barn's device config emptied, its retained states cleared.
    save_by_rename(&bridge.config, &one_camera(&broker));
    let removed = ha.next_on(BARN_CAMERA);
    assert!(removed.payload.is_empty());
    wait_until("Barn's entities gone", || {
        retained_under(port, "homeassistant/+/solarcam_5cc5638ae24d/#").is_empty()
    });
    assert!(retained_under(port, "solarcam/5CC5638AE24D/#").is_empty());
    assert_eq!(
        retained(port, DRIVEWAY_CAMERA).unwrap().json()["device"]["name"],
        "Driveway"
    );
}

#[test]
fn log_level_follows_the_file_without_a_restart() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let with_level =
        |level: &str, cameras: &str| format!("log_level: {level}\n{}", cameras.trim_start());
    std::fs::write(&path, with_level("warn", &one_camera(&broker))).unwrap();
    let bridge = BridgeProcess::start_at(dir, path.clone(), &[("RUST_LOG", "")]);
    wait_retained(broker.port, DRIVEWAY_CAMERA);
    // Everything up to here was logged before this warning (lines come in order).
    Peer::connect(broker.port, &[]).publish("4GSolarCam/Status", "not json", false);
    bridge.wait_log(&["WARN", "status rejected"]);
    assert!(
        !bridge.log().iter().any(|l| l.contains("INFO")),
        "info lines at log_level warn: {:#?}",
        bridge.log()
    );

    // Raised: the change and the reload that made it are both in the log.
    save_by_rename(
        &path,
        &with_level("debug", &two_cameras(&broker, "Driveway")),
    );
    bridge.wait_log(&["log level: debug (was warn)"]);
    bridge.wait_log(&["configuration reloaded"]);
    wait_retained(broker.port, BARN_CAMERA);

    // Lowered again: the next reload is applied (Barn removed) but not logged.
    save_by_rename(&path, &with_level("warn", &one_camera(&broker)));
    wait_until("Barn removed", || {
        retained(broker.port, BARN_CAMERA).is_none()
    });
    // A warning after it marks the end: lines come in order, so a reload line logged before it
    // would be in the log by then.
    Peer::connect(broker.port, &[]).publish("4GSolarCam/Status", "not json", false);
    bridge.wait_log(&["WARN", "status rejected"]);
    let reloads = bridge
        .log()
        .iter()
        .filter(|l| l.contains("configuration reloaded"))
        .count();
    assert_eq!(reloads, 1, "{:#?}", bridge.log());
}

#[test]
fn a_bad_edit_keeps_the_cameras_running_and_raises_the_problem_sensor_until_fixed() {
    let broker = Mosquitto::start();
    let (bridge, mut ha) = start_bridge(&broker, &two_cameras(&broker, "Driveway"));
    let mut camera = Peer::connect(broker.port, &["4GSolarCam/Wake/+"]);
    assert_eq!(
        retained(broker.port, "solarcam/bridge/config_problem")
            .unwrap()
            .text(),
        "OFF"
    );

    let bad = two_cameras(&broker, "Driveway").replace("mac: 5CC5638AE24D", "mac: 5CC5");
    save_in_place(&bridge.config, &bad);
    assert_eq!(ha.next_on("solarcam/bridge/config_problem").text(), "ON");
    let attrs = retained(broker.port, "solarcam/bridge/config_problem/attributes")
        .unwrap()
        .json();
    let error = attrs["errors"][0].as_str().unwrap();
    assert!(error.ends_with(":6: camera \"Barn\": mac \"5CC5\" is not a MAC address (12 hex digits, e.g. 5CC5638AE24C or 5C:C5:63:8A:E2:4C)"), "{error}");
    bridge.wait_log(&["ERROR", ":6: camera \"Barn\": mac \"5CC5\""]);

    // Both cameras still there and working on the last good configuration.
    assert!(retained(broker.port, BARN_CAMERA).is_some());
    Peer::connect(broker.port, &[]).publish("solarcam/5CC5638AE24D/command", "wake", false);
    assert_eq!(
        camera.next_on("4GSolarCam/Wake/5CC5638AE24D").text(),
        "wake"
    );

    // Fixed: the problem clears.
    save_by_rename(&bridge.config, &two_cameras(&broker, "Driveway"));
    assert_eq!(ha.next_on("solarcam/bridge/config_problem").text(), "OFF");
    assert_eq!(
        retained(broker.port, "solarcam/bridge/config_problem/attributes")
            .unwrap()
            .text(),
        "{}"
    );
}

#[test]
fn a_deleted_file_is_a_problem_not_an_empty_camera_list() {
    let broker = Mosquitto::start();
    let (bridge, mut ha) = start_bridge(&broker, &two_cameras(&broker, "Driveway"));
    std::fs::remove_file(&bridge.config).unwrap();
    assert_eq!(ha.next_on("solarcam/bridge/config_problem").text(), "ON");
    let attrs = retained(broker.port, "solarcam/bridge/config_problem/attributes")
        .unwrap()
        .json();
    assert!(
        attrs["errors"][0]
            .as_str()
            .unwrap()
            .contains("cannot read the configuration file"),
        "{attrs}"
    );
    assert!(retained(broker.port, BARN_CAMERA).is_some());
}

#[test]
fn sighup_rereads_the_file_and_what_it_names() {
    // The password lives in a file the watcher does not watch (another folder): after changing
    // it, `systemctl reload` (SIGHUP) is how the bridge learns of it.
    let broker = Mosquitto::with_password("bridge", "first-pw");
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("mqtt-password");
    std::fs::write(&password_file, "first-pw\n").unwrap();
    let config = format!(
        "mqtt:\n  url: {}\n  username: bridge\n  password_file: {}\ncameras:\n  - mac: {DRIVEWAY}\n",
        broker.url(),
        password_file.display()
    );
    let mut ha = Peer::connect_as(broker.port, &["solarcam/#"], Some(("bridge", "first-pw")));
    let mut bridge = BridgeProcess::start(&config);
    ha.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });

    std::fs::write(&password_file, "second-pw\n").unwrap();
    bridge.signal("HUP");
    bridge.wait_log(&["SIGHUP: reloading"]);
    bridge.wait_log(&["broker settings changed: reconnecting"]);
    // The broker still wants the first password: the new one was read, and is refused.
    bridge.wait_log(&["refused the username or password"]);
    assert!(bridge
        .stop()
        .iter()
        .all(|l| !l.contains("first-pw") && !l.contains("second-pw")));
}

#[test]
fn entities_of_cameras_removed_while_the_bridge_was_stopped_are_deleted_at_start() {
    let broker = Mosquitto::start();
    let port = broker.port;
    let (mut first, _ha) = start_bridge(&broker, &two_cameras(&broker, "Driveway"));
    // A camera that appeared by itself in that run; it is remembered, not swept away.
    Peer::connect(port, &[]).publish("4GSolarCam/Alarm/001122334455", "{}", false);
    wait_until("the discovered camera", || {
        retained(port, "homeassistant/device/solarcam_001122334455/config").is_some()
    });
    first.signal("TERM");
    first.wait_exit(WAIT).expect("still running after SIGTERM");
    assert!(retained(port, BARN_CAMERA).is_some());

    // Barn is taken out of the file while the bridge is down; the next run must not leave its ghost.
    let mut ha = Peer::connect(port, &["homeassistant/#"]);
    std::fs::write(&first.config, one_camera(&broker)).unwrap();
    let dir = std::mem::replace(&mut first.dir, tempfile::tempdir().unwrap());
    let _second = BridgeProcess::start_at(dir, first.config.clone(), &[]);
    ha.wait_for("Barn's config emptied", |m| {
        m.topic == BARN_CAMERA && m.payload.is_empty()
    });
    wait_until("Barn's ghost gone", || {
        retained_under(port, "homeassistant/+/solarcam_5cc5638ae24d/#").is_empty()
    });
    assert!(retained(port, DRIVEWAY_CAMERA).is_some());
    assert!(retained(port, "homeassistant/device/solarcam_001122334455/config").is_some());
}

#[test]
fn systemd_hears_ready_status_watchdog_reloading_and_stopping() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, one_camera(&broker)).unwrap();
    let mut bridge = BridgeProcess::start_at(
        dir,
        config,
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );

    let mut messages: Vec<String> = Vec::new();
    let mut receive_until = |what: &str, done: &dyn Fn(&[String]) -> bool| {
        receive(&socket, &mut messages, what, done);
        messages.clone()
    };
    let messages = receive_until("READY=1", &|m| m.iter().any(|l| l == "READY=1"));
    let ready = messages.iter().position(|l| l == "READY=1").unwrap();
    assert!(
        messages[..=ready]
            .iter()
            .any(|l| l.starts_with("STATUS=connected to mqtt://127.0.0.1:")
                && l.ends_with(", 1 camera")),
        "{messages:#?}"
    );
    // WatchdogSec/2 = 200 ms between pings: several within a second.
    receive_until("3 WATCHDOG=1", &|m| {
        m.iter().filter(|l| *l == "WATCHDOG=1").count() >= 3
    });

    bridge.signal("HUP");
    let messages = receive_until("RELOADING=1 then READY=1", &|m| {
        m.iter()
            .position(|l| l == "RELOADING=1")
            .is_some_and(|r| m[r..].iter().any(|l| l == "READY=1"))
    });
    let reloading = messages.iter().position(|l| l == "RELOADING=1").unwrap();
    assert!(
        messages[reloading + 1].starts_with("MONOTONIC_USEC="),
        "{messages:#?}"
    );

    bridge.signal("TERM");
    receive_until("STOPPING=1", &|m| m.iter().any(|l| l == "STOPPING=1"));
    assert!(bridge
        .wait_exit(WAIT)
        .expect("still running after SIGTERM")
        .success());
}

/// Reads sd_notify datagrams into `messages` until `done` says so.
fn receive(
    socket: &UnixDatagram,
    messages: &mut Vec<String>,
    what: &str,
    done: &dyn Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while !done(messages) {
        assert!(Instant::now() < deadline, "no {what}; got {messages:#?}");
        if let Ok(n) = socket.recv(&mut buf) {
            messages.extend(
                String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .map(str::to_string),
            );
        }
    }
}

fn unit_for_this_build(dir: &Path) -> std::path::PathBuf {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/solarcam-bridge.service"
    ))
    .unwrap();
    let path = dir.join("solarcam-bridge.service");
    std::fs::write(&path, unit.replace("/usr/bin/solarcam-bridge", bin())).unwrap();
    path
}

#[test]
fn systemd_accepts_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (package systemd) is needed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("solarcam-bridge.service"), "{stderr}");
}

/// `systemd-analyze security`'s overall exposure of `unit`, and its line.
fn exposure(unit: &std::path::Path) -> (f64, String) {
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze (package systemd) is needed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string();
    let score = line
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score in {line:?}"));
    (score, line)
}

#[test]
fn the_unit_is_hardened_to_an_exposure_of_2_or_less() {
    let dir = tempfile::tempdir().unwrap();
    let (score, line) = exposure(&unit_for_this_build(dir.path()));
    eprintln!("{line}");
    assert!(score <= 2.0, "{line}");
}

#[test]
fn the_unit_caps_memory_with_room_over_the_measured_worst_case() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/solarcam-bridge.service"
    ))
    .unwrap();
    let max = unit
        .lines()
        .find_map(|l| l.strip_prefix("MemoryMax="))
        .expect("the unit sets MemoryMax=");
    let mib: u64 = max.strip_suffix('M').unwrap().parse().unwrap();
    // `cargo bench --bench e2e -- memory`: 52 to 86 MB at worst with the default limits. A cap
    // under twice that would kill a bridge doing its job on a busy day.
    assert!(mib >= 2 * 86, "MemoryMax={max}");
}

#[test]
fn the_archive_drop_in_opens_its_folder_without_raising_the_exposure_over_2() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_this_build(dir.path());
    let drop_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/systemd/archive.conf"
    ))
    .unwrap();
    let extra: String = drop_in
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('[') && !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(extra, "ReadWritePaths=/srv/solarcam\n");
    let text = std::fs::read_to_string(&unit)
        .unwrap()
        .replace("[Service]\n", &format!("[Service]\n{extra}"));
    std::fs::write(&unit, text).unwrap();
    let (score, line) = exposure(&unit);
    assert!(score <= 2.0, "{line}");
}

#[test]
fn changed_broker_settings_reconnect_to_the_new_broker_on_save() {
    let first = Mosquitto::start();
    let second = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&first, &one_camera(&first));
    save_by_rename(&bridge.config, &one_camera(&second));
    bridge.wait_log(&["broker settings changed: reconnecting"]);
    wait_retained_value(second.port, "solarcam/bridge/availability", "online");
    wait_retained(
        second.port,
        "homeassistant/device/solarcam_5cc5638ae24c/config",
    );
    // The old broker was told the bridge left it.
    wait_retained_value(first.port, "solarcam/bridge/availability", "offline");
}

#[test]
fn the_password_can_come_from_an_environment_variable() {
    let broker = Mosquitto::with_password("bridge", "from-the-env");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "mqtt:\n  url: {}\n  username: bridge\n  password_env: SOLARCAM_TEST_PW\ncameras:\n  - mac: {DRIVEWAY}\n",
            broker.url()
        ),
    )
    .unwrap();
    let mut bridge = BridgeProcess::start_at(dir, path, &[("SOLARCAM_TEST_PW", "from-the-env")]);
    bridge.wait_log(&["Home Assistant broker: connected to"]);
    assert!(bridge.stop().iter().all(|l| !l.contains("from-the-env")));
}

#[test]
fn rust_log_wins_over_log_level() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, format!("log_level: warn\n{}", one_camera(&broker))).unwrap();
    let bridge = BridgeProcess::start_at(dir, path, &[("RUST_LOG", "debug")]);
    // Debug lines, which log_level: warn alone would hide.
    bridge.wait_log(&["DEBUG", "Home Assistant broker: subscribed"]);
}

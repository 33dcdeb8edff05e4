//! The command line as a user meets it: check-config, --version, a bad file, a clean stop.

mod common;

use std::process::Command;
use std::time::Instant;

use common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_summarises_a_good_file_in_one_line() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml");
    let (code, out, err) = run(&["check-config", "--config", example]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "{example}: OK: 0 cameras, Home Assistant broker mqtt://127.0.0.1:1883"
        )),
        "{out}"
    );
}

#[test]
fn check_config_lists_every_error_with_its_line_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "mqtt:\n  url: mqtt://localhost:1883\ncameras:\n  - mac: 5CC5638AE24C\n    name: Driveway\n  - name: barn\n    mac: 5CC5\n  - mac: 5c:c5:63:8a:e2:4c\n    name: Again\nalarm_off_after: later\n",
    )
    .unwrap();
    let (code, out, err) = run(&["check-config", "--config", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    let f = file.display();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("{f}:7: camera \"barn\": mac \"5CC5\" is not a MAC address (12 hex digits, e.g. 5CC5638AE24C or 5C:C5:63:8A:E2:4C)"),
            format!("{f}:8: camera \"Again\": mac 5CC5638AE24C is already used by the camera at line 4; each camera must be listed once"),
            format!("{f}:10: alarm_off_after: \"later\" is not a duration; write e.g. 30s, 2m or 1h"),
        ]
    );
}

#[test]
fn a_missing_file_is_named() {
    let (code, _, err) = run(&["check-config", "--config", "/nonexistent/solarcam.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("/nonexistent/solarcam.yaml: cannot read the configuration file"),
        "{err}"
    );
}

#[test]
fn run_refuses_to_start_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "cameras:\n  - mac: 5CC5638AE24C\n    colour: red\n").unwrap();
    let (code, _, err) = run(&["--config", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(":3: cameras[0]: unknown field `colour`"),
        "{err}"
    );
    assert!(err.contains("not started"), "{err}");
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!("solarcam-bridge {}", env!("CARGO_PKG_VERSION"))
    );
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for word in [
        "run",
        "check-config",
        "--config",
        "/etc/solarcam-bridge/config.yaml",
    ] {
        assert!(out.contains(word), "{word} missing from --help:\n{out}");
    }
}

#[test]
fn failures_go_to_stderr_once_with_their_exit_status() {
    // A usage error, as clap reports its own: exit 2, the value and what it should be.
    let (code, out, err) = run(&["container", "--user", "bob"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("'bob'") && err.contains("is not UID:GID (numbers) or root"),
        "{err}"
    );
    // The container's default user is the image's, as its help says.
    let (_, out, _) = run(&["container", "--help"]);
    assert!(out.contains("[default: 65532:65532]"), "{out}");
    // A bad file: each error once on stderr, nothing on stdout, exit 1.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "cameras:\n  - mac: 5CC5\n").unwrap();
    let (code, out, err) = run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err.matches("is not a MAC address").count(), 1, "{err}");
    // `health` answers on stdout, well or not.
    let (code, out, err) = run(&["health", "--state-dir", dir.path().to_str().unwrap()]);
    assert_eq!((code, err.as_str()), (1, ""));
    assert!(!out.trim().is_empty());
}

#[test]
fn sigterm_publishes_offline_and_exits_0() {
    let broker = Mosquitto::start();
    let (mut bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    let asked = Instant::now();
    bridge.signal("TERM");
    let offline = ha.wait_for("offline", |m| m.topic == "solarcam/bridge/availability");
    assert_eq!(offline.text(), "offline");
    let status = bridge.wait_exit(WAIT).expect("still running after SIGTERM");
    assert!(status.success(), "{status:?}");
    bridge.wait_log(&["stopped"]);
    // How long it takes is a benchmark's business (`cargo bench --bench e2e -- stop`), not a
    // pass/fail of a test on a busy machine.
    eprintln!("stopped {:?} after SIGTERM", asked.elapsed());
    assert_eq!(
        retained(broker.port, "solarcam/bridge/availability")
            .unwrap()
            .text(),
        "offline"
    );
}

#[test]
fn a_killed_bridge_is_marked_offline_by_its_last_will() {
    let broker = Mosquitto::start();
    let (mut bridge, mut ha) = start_bridge(&broker, &config_for(&broker, ""));
    bridge.signal("KILL");
    bridge.wait_exit(WAIT).expect("still running after SIGKILL");
    let offline = ha.wait_for("last will", |m| m.topic == "solarcam/bridge/availability");
    assert_eq!(offline.text(), "offline");
}

/// The oldest and newest Home Assistant releases tested (`2025.4`, `2026.11`): named once, in
/// scripts/ha-test's `HA_VERSIONS`.
fn tested_range() -> (String, String) {
    let ha_test =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ha-test")).unwrap();
    let versions: Vec<&str> = ha_test
        .lines()
        .find_map(|l| l.strip_prefix("HA_VERSIONS=("))
        .expect("scripts/ha-test names HA_VERSIONS")
        .split('"')
        .filter_map(|v| v.split(':').next().filter(|v| v.starts_with("20")))
        .collect();
    let minor = |v: &str| v.rsplit_once('.').unwrap().0.to_string();
    (minor(versions[0]), minor(versions[versions.len() - 1]))
}

#[test]
fn the_blueprints_name_what_the_bridge_publishes() {
    // Their behaviour is tested in a real Home Assistant (tests/ha/test_blueprints.py); this
    // keeps them in step with the bridge's own names.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/home-assistant/blueprints/automation/"
    );
    let read = |name: &str| {
        let text = std::fs::read_to_string(format!("{dir}{name}")).unwrap();
        // `!input` is Home Assistant's own tag; plain YAML reads it as a tagged string.
        let y: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        (text, y)
    };
    let defaults = solarcam_bridge::config::Config::parse("", "test", None).unwrap();
    // The oldest supported release is what the blueprints require, and the README states the range.
    let (oldest, newest) = tested_range();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&format!("**{oldest} to {newest}**")),
        "README.md does not state the tested range {oldest} to {newest}"
    );
    for name in ["solarcam_alarm_notify.yaml", "solarcam_health_notify.yaml"] {
        let (_, y) = read(name);
        let bp = &y["blueprint"];
        assert_eq!(bp["domain"].as_str(), Some("automation"), "{name}");
        assert_eq!(
            bp["source_url"].as_str().unwrap(),
            format!(
                "{}/blob/main/packaging/home-assistant/blueprints/automation/{name}",
                env!("CARGO_PKG_REPOSITORY")
            )
        );
        assert!(bp["author"].as_str().is_some(), "{name}");
        assert_eq!(
            bp["homeassistant"]["min_version"].as_str(),
            Some(format!("{oldest}.0").as_str()),
            "{name}: the oldest version the README supports"
        );
        // Today's keys (2024.10 and later), not trigger:/condition:/action:/service:.
        for key in ["triggers", "conditions", "actions"] {
            assert!(y[key].is_sequence(), "{name}: no {key}:");
        }
        for old in ["trigger", "condition", "action"] {
            assert!(y[old].is_null(), "{name}: {old}: is the old key");
        }
        let (text, _) = read(name);
        assert!(
            !text.contains("service:") && !text.contains("platform:"),
            "{name}"
        );
    }
    let (text, y) = read("solarcam_alarm_notify.yaml");
    let input = &y["blueprint"]["input"];
    // The kinds offered are exactly the event types the bridge publishes.
    let kinds: Vec<&str> = input["kinds"]["selector"]["select"]["options"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let published: Vec<&str> = solarcam_bridge::protocol::AlarmKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(kinds, published);
    assert_eq!(
        input["base_topic"]["default"].as_str(),
        Some(defaults.base_topic.as_str())
    );
    // It listens to the alarm feed (never to a state that a restart brings back, nor to a
    // wildcard that overlaps the event entities' subscriptions), and reads the two fields the
    // bridge adds for its cooldown.
    let feed = solarcam_bridge::discovery::Topics {
        discovery_prefix: "homeassistant".into(),
        base: "{{ base_topic }}".into(),
    }
    .alarm_feed();
    assert_eq!(y["triggers"][0]["trigger"].as_str(), Some("mqtt"));
    assert_eq!(y["triggers"][0]["topic"].as_str(), Some(feed.as_str()));
    assert!(text.contains("event.mac"));
    assert!(text.contains("event.alarm_on_for") && text.contains("event.since_previous_alarm"));
}

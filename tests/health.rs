//! `solarcam-bridge health`, against the real binary and a real Mosquitto: healthy only while the
//! bridge's loop answers and Home Assistant's broker is connected.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// `health`'s exit status and what it printed.
fn health(bridge: &BridgeProcess) -> (bool, String) {
    let out = Command::new(bin())
        .args(["health", "--state-dir"])
        .arg(bridge.dir.path().join("state"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Waits until `health` says `healthy`; fails with its last answer.
fn wait_health(bridge: &BridgeProcess, healthy: bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (ok, answer) = health(bridge);
        if ok == healthy {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "health never became {healthy}: {answer}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn health_is_ok_only_while_the_loop_answers_and_home_assistants_broker_is_connected() {
    let mut broker = Mosquitto::start();
    let (bridge, _ha) = start_bridge(&broker, &config_for(&broker, ""));
    let answer = wait_health(&bridge, true);
    assert_eq!(answer, "healthy: connected to Home Assistant's broker");

    // The broker goes: unhealthy, saying why; back: healthy again.
    broker.stop();
    let answer = wait_health(&bridge, false);
    assert!(
        answer.starts_with("unhealthy: not connected to Home Assistant's broker"),
        "{answer}"
    );
    broker.restart();
    wait_health(&bridge, true);

    // A loop that does not turn (here: the process stopped) does not answer: unhealthy within
    // the answer's time limit, and healthy once it turns again.
    bridge.signal("STOP");
    let (ok, answer) = health(&bridge);
    bridge.signal("CONT");
    assert!(!ok);
    assert!(
        answer.starts_with("not answering: its main loop did not answer within 5s"),
        "{answer}"
    );
    wait_health(&bridge, true);
}

#[test]
fn health_says_not_running_when_no_bridge_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["health", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!(
            "not running: nothing listens on {}/health.sock",
            dir.path().display()
        )),
        "{text}"
    );
}

//! The timers of many cameras: a timeout visits only those whose time has come.

use super::*;

#[test]
fn with_10000_cameras_a_timeout_with_one_timer_due_touches_one_camera() {
    let macs: Vec<String> = (0..10_000u64)
        .map(|i| format!("{:012X}", 0x0011_0000_0000u64 + i))
        .collect();
    let mut yaml = String::from("alarm_off_after: 30s\nawake_timeout: 120s\ncameras:\n");
    for m in &macs {
        yaml.push_str(&format!("  - mac: \"{m}\"\n"));
    }
    // The camera link only: announcing 10,000 cameras to Home Assistant is another test's.
    let mut h = Harness::new(config(&yaml));
    h.event(Event::Connected(Link::Camera));
    // Every camera speaks: each is awake, with its timer to fall asleep 120 s on.
    for m in &macs {
        h.message(
            "4GSolarCam/Status",
            format!(r#"{{"mac":"{m}","battery":50}}"#),
        );
    }
    h.advance(Duration::from_secs(10));
    // One alarm, whose timer (30 s) falls before every other.
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{}"}}"#, macs[7]));
    assert_eq!(h.bridge.timers.len(), 10_001);
    let fired = h.bridge.timers.fired();

    let ps = h.advance(Duration::from_secs(31));
    // That camera's alarm went off, and nothing else happened: one timer fired (one camera
    // visited, not 10,000 scanned), one state sent.
    assert_eq!(h.bridge.timers.fired() - fired, 1);
    assert_eq!(h.bridge.timers.len(), 10_000);
    assert_eq!(
        ps.len(),
        1,
        "{:?}",
        ps.iter().map(|p| &p.topic).collect::<Vec<_>>()
    );
    assert_eq!(ps[0].topic, format!("solarcam/{}/alarm", macs[7]));
    assert_eq!(&ps[0].payload[..], b"OFF");

    // 120 s after it was last heard, each camera falls asleep, once (the one with the alarm
    // was heard 10 s after the others).
    let ps = h.advance(Duration::from_secs(90));
    let asleep = ps.iter().filter(|p| p.topic.ends_with("/awake")).count();
    assert_eq!((asleep, h.bridge.timers.len()), (10_000, 0));
}

#[test]
fn a_shell_that_sleeps_until_poll_timeout_misses_nothing() {
    // Every deadline is in the timer table: a held alarm event, a birth message folded into a
    // later announcement, the diagnostics, a camera's alarm and sleep. Woken only when
    // `poll_timeout` says, the shell sees each happen, and then sleeps for good.
    let mut h = Harness::just_connected(two_cameras());
    let alarm = format!(r#"{{"mac":"{DRIVEWAY}","type":"PIR"}}"#);
    let held = h.message("4GSolarCam/Alarm", alarm);
    assert!(!held.iter().any(|p| p.topic.ends_with("/alarm/event")));
    h.message("homeassistant/status", "online");
    h.message("homeassistant/status", "online"); // folded into one later announcement
    let mut woken = Vec::new();
    for _ in 0..100 {
        let Some(at) = h.bridge.poll_timeout() else {
            break;
        };
        assert!(at >= h.now, "a deadline in the past");
        h.now = at;
        h.bridge.handle_timeout(at);
        woken.extend(all_publishes(h.drain()));
    }
    assert_eq!(h.bridge.poll_timeout(), None, "the table is not empty");
    let sent = |topic: &str| woken.iter().filter(|p| p.topic == topic).count();
    assert_eq!(sent("solarcam/5CC5638AE24C/alarm/event"), 1);
    assert_eq!(sent("homeassistant/device/solarcam_5cc5638ae24c/config"), 1);
    assert!(sent("solarcam/bridge/messages_received") >= 1);
    assert!(woken
        .iter()
        .any(|p| p.topic == "solarcam/5CC5638AE24C/alarm" && &p.payload[..] == b"OFF"));
    assert!(woken
        .iter()
        .any(|p| p.topic == "solarcam/5CC5638AE24C/awake" && &p.payload[..] == b"asleep"));
}

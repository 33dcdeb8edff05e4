//! Scenarios for the core, with a fake clock: each is a conversation with the bridge.

use super::*;
use crate::discovery::Diagnostic;
use crate::test_support::jpeg;

const DRIVEWAY: &str = "5CC5638AE24C";
const BARN: &str = "5CC5638AE24D";

/// Discovery topics a camera's announcement publishes before any status: 14 entities (battery
/// voltage and signal wait for a value), 6 alarm triggers, and the emptied config of the Awake
/// binary sensor it replaced.
const CONFIGS_PER_CAMERA: usize = 14 + 6 + 1;
/// The bridge device's own entities.
const BRIDGE_CONFIGS: usize = 10;

fn config(text: &str) -> Config {
    Config::parse(text, "test.yaml", None).unwrap()
}

fn two_cameras() -> Config {
    config(&format!(
        "alarm_off_after: 30s\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n    area: Garden\n  - mac: {BARN}\n    name: Barn\n"
    ))
}

struct Harness {
    bridge: Bridge,
    now: Instant,
    wall: SystemTime,
}

impl Harness {
    fn new(config: Config) -> Harness {
        Harness {
            bridge: Bridge::new(config),
            now: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    /// Both links up, the start-up actions drained.
    fn connected(config: Config) -> Harness {
        let mut h = Harness::new(config);
        h.event(Event::Connected(Link::Ha));
        h.event(Event::Connected(Link::Camera));
        h
    }

    fn event(&mut self, e: Event) -> Vec<Action> {
        self.bridge.handle(e, self.now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.bridge.poll_action()).collect()
    }

    fn message(&mut self, topic: &str, payload: impl Into<Bytes>) -> Vec<Publish> {
        let e = Event::Message {
            topic: topic.to_string(),
            payload: payload.into(),
            retain: false,
            received: self.wall,
        };
        publishes(self.event(e))
    }

    /// The last error the bridge noted (its "Last error" sensor).
    fn last_error(&self) -> &str {
        self.bridge
            .stats()
            .last_error
            .as_deref()
            .expect("no error was noted")
    }

    fn advance(&mut self, d: Duration) -> Vec<Publish> {
        self.now += d;
        self.wall += d;
        self.bridge.handle_timeout(self.now);
        publishes(self.drain())
    }
}

/// The publishes among `actions`, without the bridge's diagnostic counters (which follow every
/// message; `diagnostics_*` tests look at them).
fn publishes(actions: Vec<Action>) -> Vec<Publish> {
    all_publishes(actions)
        .into_iter()
        .filter(|p| {
            !Diagnostic::ALL
                .iter()
                .any(|d| p.topic == format!("solarcam/bridge/{}", d.key()))
        })
        .collect()
}

fn all_publishes(actions: Vec<Action>) -> Vec<Publish> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// Publishes other than the "awake" and "last seen" states every message from a camera brings.
fn without_presence(ps: Vec<Publish>) -> Vec<Publish> {
    ps.into_iter()
        .filter(|p| !p.topic.ends_with("/awake") && !p.topic.ends_with("/last_seen"))
        .collect()
}

/// The one publish on `topic`; fails when there is none or several.
fn on<'a>(ps: &'a [Publish], topic: &str) -> &'a Publish {
    let found: Vec<&Publish> = ps.iter().filter(|p| p.topic == topic).collect();
    assert_eq!(
        found.len(),
        1,
        "publishes on {topic}: {:#?}",
        ps.iter().map(|p| &p.topic).collect::<Vec<_>>()
    );
    found[0]
}

fn text(p: &Publish) -> &str {
    std::str::from_utf8(&p.payload).unwrap()
}

fn json(p: &Publish) -> serde_json::Value {
    serde_json::from_slice(&p.payload).unwrap()
}

#[test]
fn start_up_subscribes_and_publishes_discovery_then_availability_then_states() {
    let mut h = Harness::new(two_cameras());
    let actions = h.event(Event::Connected(Link::Ha));
    assert_eq!(
        actions[0],
        Action::Subscribe {
            link: Link::Ha,
            filters: vec![
                "homeassistant/status".into(),
                "solarcam/+/command".into(),
                "homeassistant/camera/+/snapshot/config".into()
            ]
        }
    );
    let ps = publishes(actions);
    let pos = |t: &str| {
        ps.iter()
            .position(|p| p.topic == t)
            .unwrap_or_else(|| panic!("no {t}"))
    };
    let availability = pos("solarcam/bridge/availability");
    assert!(pos("homeassistant/camera/solarcam_5cc5638ae24c/snapshot/config") < availability);
    assert!(pos("homeassistant/binary_sensor/solarcam_bridge/connectivity/config") < availability);
    assert!(availability < pos("solarcam/5CC5638AE24C/alarm"));
    assert_eq!(text(&ps[availability]), "online");
    assert!(ps[availability].retain);
    // 9 entities per camera before any status (battery voltage and signal wait for a value),
    // plus the bridge's own two.
    let configs = ps.iter().filter(|p| p.topic.ends_with("/config")).count();
    assert_eq!(configs, 2 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS);
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "OFF");
    assert!(ps
        .iter()
        .all(|p| p.retain && p.link == Link::Ha && p.qos == Qos::AtMostOnce));

    let actions = h.event(Event::Connected(Link::Camera));
    assert_eq!(
        actions,
        vec![Action::Subscribe {
            link: Link::Camera,
            filters: [
                "4GSolarCam/Snapshot",
                "4GSolarCam/Snapshot/+",
                "4GSolarCam/Alarm",
                "4GSolarCam/Alarm/+",
                "4GSolarCam/Status",
                "4GSolarCam/Status/+",
            ]
            .map(String::from)
            .to_vec()
        }]
    );
}

#[test]
fn snapshot_after_text_header_is_published_byte_exact() {
    let mut h = Harness::connected(two_cameras());
    let img = jpeg(1000);
    let mut payload = format!("mac={DRIVEWAY};").into_bytes();
    payload.extend_from_slice(&img);
    let ps = h.message("4GSolarCam/Snapshot", payload);
    let p = on(&ps, "solarcam/5CC5638AE24C/snapshot");
    assert_eq!(&p.payload[..], &img[..]);
    assert!(p.retain);
    assert_eq!(without_presence(ps).len(), 1);
}

#[test]
fn snapshot_over_the_limit_is_not_published() {
    let mut h = Harness::connected(config(&format!(
        "snapshot_max_bytes: 2048\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    let ps = h.message("4GSolarCam/Snapshot", jpeg(4000));
    assert!(without_presence(ps.clone()).is_empty(), "{ps:?}");
    assert_eq!(h.bridge.stats().rejected, 1);
    // The next one, in bounds, goes through.
    let ps = h.message("4GSolarCam/Snapshot", jpeg(100));
    assert_eq!(without_presence(ps).len(), 1);
}

#[test]
fn malformed_snapshots_are_counted_and_the_next_one_still_works() {
    let mut h = Harness::connected(two_cameras());
    let img = jpeg(500);
    for bad in [&b""[..], b"garbage", &img[..img.len() - 10]] {
        let ps = h.message(
            "4GSolarCam/Snapshot/5CC5638AE24C",
            Bytes::copy_from_slice(bad),
        );
        assert!(ps.is_empty());
    }
    assert_eq!(h.bridge.stats().rejected, 3);
    let ps = h.message("4GSolarCam/Snapshot/5CC5638AE24C", img.clone());
    assert_eq!(
        &on(&ps, "solarcam/5CC5638AE24C/snapshot").payload[..],
        &img[..]
    );
}

#[test]
fn alarm_turns_on_then_off_after_the_configured_delay() {
    let mut h = Harness::connected(two_cameras());
    let alarm = format!(r#"{{"mac":"{DRIVEWAY}","type":"PIR","time":"2026-11-27 10:00:00"}}"#);
    let ps = h.message("4GSolarCam/Alarm", alarm.clone());
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "ON");
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24C/alarm/attributes")),
        alarm
    );
    // Woken no later than the alarm's end (diagnostics may come first).
    let start = h.now;
    assert!(h.bridge.poll_timeout().unwrap() <= start + Duration::from_secs(30));

    assert!(h.advance(Duration::from_secs(29)).is_empty());
    // A second alarm restarts the delay.
    h.message("4GSolarCam/Alarm", alarm);
    assert!(h.advance(Duration::from_secs(29)).is_empty());
    let ps = h.advance(Duration::from_secs(1));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "OFF");
    assert!(on(&ps, "solarcam/5CC5638AE24C/alarm").retain);
    // What is left to do is the camera falling asleep, 3 minutes after its last alarm.
    assert_eq!(
        h.bridge.poll_timeout(),
        Some(start + Duration::from_secs(29 + 180))
    );
}

#[test]
fn status_time_is_sent_once_a_second_and_unchanged_values_not_at_all() {
    let mut h = Harness::connected(two_cameras());
    let status = |n: u32| format!(r#"{{"devMac":"{BARN}","battery":87,"seq":{n}}}"#);
    let topics = |ps: Vec<Publish>| -> Vec<String> {
        without_presence(ps).into_iter().map(|p| p.topic).collect()
    };
    let first = topics(h.message("4GSolarCam/Status", status(1)));
    assert_eq!(
        first,
        [
            "solarcam/5CC5638AE24D/status",
            "solarcam/5CC5638AE24D/last_status",
            "solarcam/5CC5638AE24D/battery"
        ]
    );
    // Same second, same battery: only the report itself is new.
    h.wall += Duration::from_millis(400);
    let second = topics(h.message("4GSolarCam/Status", status(2)));
    assert_eq!(second, ["solarcam/5CC5638AE24D/status"]);
    // The next second has a new time.
    h.wall += Duration::from_millis(700);
    let ps = h.message("4GSolarCam/Status", status(3));
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/last_status")),
        "2023-11-14T22:13:21Z"
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/status")), status(3));
}

#[test]
fn status_publishes_battery_signal_voltage_and_announces_new_sensors() {
    let mut h = Harness::connected(two_cameras());
    let status = format!(
        r#"{{"devMac":"{BARN}","battery":87,"voltage":3950,"csq":20,"firmware":"V1.0.3"}}"#
    );
    let ps = h.message("4GSolarCam/Status", status.clone());
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/battery")), "87");
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/battery_voltage")),
        "3.95"
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/signal")), "-73");
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/status")), status);
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/last_status")),
        "2023-11-14T22:13:20Z"
    );
    let voltage = json(on(
        &ps,
        "homeassistant/sensor/solarcam_5cc5638ae24d/battery_voltage/config",
    ));
    assert_eq!(voltage["unit_of_measurement"], "V");
    assert_eq!(voltage["entity_category"], "diagnostic");
    // Firmware reaches the device block of every entity.
    let battery = json(on(
        &ps,
        "homeassistant/sensor/solarcam_5cc5638ae24d/battery/config",
    ));
    assert_eq!(battery["device"]["sw_version"], "V1.0.3");
    assert_eq!(
        battery["json_attributes_topic"],
        "solarcam/5CC5638AE24D/status"
    );

    // The same status again announces nothing new.
    let ps = h.message("4GSolarCam/Status", status);
    assert!(ps.iter().all(|p| !p.topic.ends_with("/config")));
}

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
    assert_eq!(h.bridge.stats().rejected, 1);
}

#[test]
fn our_own_status_request_echoed_back_is_not_a_report() {
    let mut h = Harness::connected(two_cameras());
    assert!(h
        .message("4GSolarCam/Status/5CC5638AE24C", "status")
        .is_empty());
    assert_eq!(h.bridge.stats().rejected, 0);
}

#[test]
fn home_assistant_birth_republishes_everything_in_order() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Snapshot", {
        let mut p = DRIVEWAY.as_bytes().to_vec();
        p.extend(jpeg(50));
        p
    });
    let ps = h.message("homeassistant/status", "online");
    assert_eq!(
        ps.iter().filter(|p| p.topic.ends_with("/config")).count(),
        2 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS
    );
    assert_eq!(text(on(&ps, "solarcam/bridge/availability")), "online");
    // The snapshot is the broker's retained message; the bridge keeps no copy to send again.
    assert!(ps.iter().all(|p| !p.topic.ends_with("/snapshot")));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "OFF");
    let last_config = ps
        .iter()
        .rposition(|p| p.topic.ends_with("/config"))
        .unwrap();
    let first_state = ps
        .iter()
        .position(|p| p.topic.starts_with("solarcam/5CC"))
        .unwrap();
    assert!(last_config < first_state);
    assert!(h.message("homeassistant/status", "offline").is_empty());
}

#[test]
fn an_unknown_camera_appears_named_from_its_mac() {
    let mut h = Harness::connected(two_cameras());
    let ps = h.message("4GSolarCam/Alarm/112233445566", "{}");
    let cam = json(on(
        &ps,
        "homeassistant/camera/solarcam_112233445566/snapshot/config",
    ));
    assert_eq!(cam["device"]["name"], "SC211 112233445566");
    assert_eq!(
        text(on(&ps, "solarcam/112233445566/alarm/attributes")),
        "{}"
    );
    assert_eq!(h.bridge.camera_count(), 3);
}

#[test]
fn unknown_cameras_are_ignored_when_discovery_of_them_is_off() {
    let mut h = Harness::connected(config(&format!(
        "discover_unknown: false\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    assert!(h.message("4GSolarCam/Alarm/112233445566", "{}").is_empty());
    assert!(h
        .message("solarcam/112233445566/command", "wake")
        .is_empty());
    assert_eq!(h.bridge.stats().refused_cameras, 1);
    assert_eq!(h.bridge.stats().rejected, 1);
}

#[test]
fn a_payload_without_mac_goes_to_the_only_configured_camera() {
    let mut h = Harness::connected(config(&format!("cameras:\n  - mac: {DRIVEWAY}\n")));
    let ps = h.message("4GSolarCam/Snapshot", jpeg(10));
    on(&ps, "solarcam/5CC5638AE24C/snapshot");
}

#[test]
fn a_snapshot_without_mac_follows_its_alarm_but_not_after_the_window() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{BARN}"}}"#));
    h.advance(Duration::from_secs(3));
    let ps = h.message("4GSolarCam/Snapshot", jpeg(10));
    on(&ps, "solarcam/5CC5638AE24D/snapshot");

    h.advance(ATTRIBUTION_WINDOW + Duration::from_secs(1));
    assert!(h.message("4GSolarCam/Snapshot", jpeg(10)).is_empty());
    assert_eq!(h.bridge.stats().unattributed, 1);
}

#[test]
fn a_snapshot_without_mac_is_dropped_when_two_cameras_were_heard() {
    let mut h = Harness::connected(two_cameras());
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{BARN}"}}"#));
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));
    assert!(h.message("4GSolarCam/Snapshot", jpeg(10)).is_empty());
    assert_eq!(h.bridge.stats().unattributed, 1);
}

#[test]
fn before_home_assistant_connects_states_are_queued_and_discovery_waits_for_the_connection() {
    let mut h = Harness::new(two_cameras());
    // A message on the camera link before Home Assistant's connection: its states are queued
    // (the shell's outbox holds them until the connection is up), no discovery yet.
    let ps = h.message("4GSolarCam/Alarm/5CC5638AE24C", "{}");
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/alarm")), "ON");
    assert!(ps.iter().all(|p| !p.topic.ends_with("/config")), "{ps:#?}");
    // On connect: discovery, then availability, then the states again, the alarm still ON.
    let ps = publishes(h.event(Event::Connected(Link::Ha)));
    let config = ps
        .iter()
        .position(|p| p.topic == "homeassistant/binary_sensor/solarcam_5cc5638ae24c/alarm/config")
        .unwrap();
    let alarm = ps
        .iter()
        .position(|p| p.topic == "solarcam/5CC5638AE24C/alarm")
        .unwrap();
    assert!(config < alarm);
    assert_eq!(text(&ps[alarm]), "ON");
}

#[test]
fn shutdown_publishes_offline_retained() {
    let mut h = Harness::connected(two_cameras());
    let ps = publishes(h.event(Event::Shutdown));
    assert_eq!(text(on(&ps, "solarcam/bridge/availability")), "offline");
    assert!(ps[0].retain);
}

#[test]
fn reload_adds_removes_and_renames_only_what_changed() {
    let mut h = Harness::connected(two_cameras());
    let new = config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n    name: Front drive\n    area: Garden\n  - mac: 112233445566\n    name: Gate\n"
    ));
    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(new))));
    // Barn removed: every config topic emptied, retained states cleared.
    for e in CameraEntity::ALL {
        let p = on(
            &ps,
            &format!(
                "homeassistant/{}/solarcam_5cc5638ae24d/{}/config",
                e.component(),
                e.key()
            ),
        );
        assert!(p.payload.is_empty() && p.retain);
    }
    assert!(on(&ps, "solarcam/5CC5638AE24D/snapshot").payload.is_empty());
    // Driveway renamed in place: same unique_id, new name.
    let cam = json(on(
        &ps,
        "homeassistant/camera/solarcam_5cc5638ae24c/snapshot/config",
    ));
    assert_eq!(cam["unique_id"], "solarcam_5cc5638ae24c_snapshot");
    assert_eq!(cam["device"]["name"], "Front drive");
    // Gate added.
    let gate = json(on(
        &ps,
        "homeassistant/camera/solarcam_112233445566/snapshot/config",
    ));
    assert_eq!(gate["device"]["name"], "Gate");
    // The bridge device is untouched.
    assert!(ps.iter().all(|p| !p.topic.contains("solarcam_bridge")));

    // Reloading the same file again changes nothing.
    let same = h.bridge.config().clone();
    assert!(h.event(Event::ConfigReloaded(Box::new(same))).is_empty());
}

/// The core decides when the broker settings need new connections; the shell only carries it out.
#[test]
fn reload_reconnects_only_for_broker_settings_and_says_offline_first() {
    let remote = |url: &str, extra: &str| {
        config(&format!(
            "mqtt:\n  url: {url}\n{extra}cameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n"
        ))
    };
    let mut h = Harness::connected(remote("mqtt://10.0.0.2:1883", ""));

    // Cameras, names, timings: no reconnect.
    let renamed = remote("mqtt://10.0.0.2:1883", "alarm_off_after: 10s\n");
    let actions = h.event(Event::ConfigReloaded(Box::new(renamed)));
    assert!(!actions.contains(&Action::Reconnect), "{actions:?}");

    // Another Home Assistant broker: "offline" goes to the old one, then the shell reconnects.
    let moved = remote("mqtt://10.0.0.3:1883", "alarm_off_after: 10s\n");
    let actions = h.event(Event::ConfigReloaded(Box::new(moved)));
    assert_eq!(actions.last(), Some(&Action::Reconnect), "{actions:?}");
    let offline = actions
        .iter()
        .position(|a| {
            matches!(a, Action::Publish(p) if p.topic == "solarcam/bridge/availability"
                && p.payload == "offline" && p.retain && p.link == Link::Ha)
        })
        .expect("offline on the old broker");
    assert!(offline < actions.len() - 1);
    assert_eq!(
        h.bridge.config().mqtt.remote().map(|b| b.url.to_string()),
        Some("mqtt://10.0.0.3:1883".to_string())
    );
    assert_eq!(h.bridge.stats().reconnects, 1);

    // A camera broker of their own: reconnect, but Home Assistant's broker is the same one, so
    // no "offline" there.
    let h2 = "camera_mqtt:\n  url: mqtt://cams.example:1883\nalarm_off_after: 10s\n";
    h.event(Event::Connected(Link::Ha));
    let actions = h.event(Event::ConfigReloaded(Box::new(remote(
        "mqtt://10.0.0.3:1883",
        h2,
    ))));
    assert_eq!(actions.last(), Some(&Action::Reconnect), "{actions:?}");
    assert!(!publishes(actions).iter().any(|p| p.payload == "offline"));
}

#[test]
fn the_embedded_brokers_settings_wait_for_a_restart() {
    let embedded = |listen: &str| {
        config(&format!(
            "mqtt:\n  embedded: true\n  listen: {listen}\ncameras:\n  - mac: {DRIVEWAY}\n"
        ))
    };
    let mut h = Harness::connected(embedded("127.0.0.1:1883"));
    let before = h.bridge.config().mqtt.clone();
    let actions = h.event(Event::ConfigReloaded(Box::new(embedded("127.0.0.1:1999"))));
    assert!(!actions.contains(&Action::Reconnect), "{actions:?}");
    assert_eq!(h.bridge.config().mqtt, before);
    // Nor can it be swapped for a broker at a URL while clients are connected to it.
    let remote = config(&format!(
        "mqtt:\n  url: mqtt://10.0.0.2\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    let actions = h.event(Event::ConfigReloaded(Box::new(remote)));
    assert!(!actions.contains(&Action::Reconnect), "{actions:?}");
    assert_eq!(h.bridge.config().mqtt, before);
}

#[test]
fn reload_with_new_topics_moves_everything() {
    let mut h = Harness::connected(two_cameras());
    let mut new = two_cameras();
    new.base_topic = "cams".into();
    new.camera_topic_prefix = "Solar".into();
    let actions = h.event(Event::ConfigReloaded(Box::new(new)));
    let ha_filters = |base: &str| {
        vec![
            "homeassistant/status".to_string(),
            format!("{base}/+/command"),
            "homeassistant/camera/+/snapshot/config".to_string(),
        ]
    };
    assert!(actions.contains(&Action::Unsubscribe {
        link: Link::Ha,
        filters: ha_filters("solarcam")
    }));
    // The availability topic is the connection's last will: a new base topic needs new
    // connections, after the old names are cleared on the old ones.
    assert_eq!(actions.last(), Some(&Action::Reconnect));
    let old = publishes(actions);
    assert!(on(&old, "solarcam/bridge/availability").payload.is_empty());
    let mut actions = h.event(Event::Connected(Link::Ha));
    actions.extend(h.event(Event::Connected(Link::Camera)));
    assert!(actions.contains(&Action::Subscribe {
        link: Link::Ha,
        filters: ha_filters("cams")
    }));
    assert!(actions.iter().any(|a| matches!(a, Action::Subscribe { link: Link::Camera, filters } if filters[0] == "Solar/Snapshot")));
    let ps = publishes(actions);
    assert_eq!(text(on(&ps, "cams/bridge/availability")), "online");
    let cam = json(on(
        &ps,
        "homeassistant/camera/solarcam_5cc5638ae24c/snapshot/config",
    ));
    assert_eq!(cam["topic"], "cams/5CC5638AE24C/snapshot");
    let ps = h.message("solarcam/5CC5638AE24C/command", "wake");
    assert!(ps.is_empty(), "old command topic no longer read");
    let ps = h.message("cams/5CC5638AE24C/command", "wake");
    assert_eq!(ps[0].topic, "Solar/Wake/5CC5638AE24C");
}

fn retained_message(h: &mut Harness, topic: &str, payload: Vec<u8>) -> Vec<Publish> {
    let e = Event::Message {
        topic: topic.to_string(),
        payload: payload.into(),
        retain: true,
        received: h.wall,
    };
    publishes(h.event(e))
}

/// The snapshot-entity config another run of the bridge left retained for `mac`.
fn announcement(mac: &str, base: &str) -> (String, Vec<u8>) {
    let topics = Topics {
        discovery_prefix: "homeassistant".into(),
        base: base.into(),
    };
    let mac: Mac = mac.parse().unwrap();
    let info = CameraInfo {
        mac,
        name: "Old",
        area: None,
        model: None,
        sw_version: None,
    };
    let config = crate::discovery::camera_entity(&topics, &info, CameraEntity::Snapshot);
    (
        topics.camera_config(mac, CameraEntity::Snapshot),
        serde_json::to_vec(&config).unwrap(),
    )
}

#[test]
fn ghosts_of_cameras_no_longer_configured_are_removed_at_start() {
    let mut h = Harness::connected(two_cameras());
    let (topic, payload) = announcement("112233445566", "solarcam");
    let ps = retained_message(&mut h, &topic, payload);
    assert_eq!(
        ps.len(),
        // Every entity's and trigger's config, every retained state (not the event topic).
        CameraEntity::ALL.len() + crate::discovery::ALARM_TRIGGERS.len() + State::ALL.len() - 1,
        "{ps:#?}"
    );
    assert!(on(
        &ps,
        "homeassistant/device_automation/solarcam_112233445566/alarm_pir/config"
    )
    .payload
    .is_empty());
    assert!(ps
        .iter()
        .all(|p| p.topic != "solarcam/112233445566/alarm/event"));
    assert!(on(
        &ps,
        "homeassistant/button/solarcam_112233445566/reboot/config"
    )
    .payload
    .is_empty());
    assert!(on(&ps, "solarcam/112233445566/snapshot").payload.is_empty());
    assert!(ps.iter().all(|p| p.retain && p.payload.is_empty()));
    // It is not made a camera of this run.
    assert_eq!(h.bridge.camera_count(), 2);
}

#[test]
fn announcements_that_are_not_ghosts_are_left_alone() {
    let mut h = Harness::connected(two_cameras());
    // A configured camera's own config, echoed back.
    let (topic, payload) = announcement(DRIVEWAY, "solarcam");
    assert!(retained_message(&mut h, &topic, payload).is_empty());
    // Another bridge's camera (other state topics).
    let (topic, payload) = announcement("112233445566", "elsewhere");
    assert!(retained_message(&mut h, &topic, payload).is_empty());
    // A live (not retained) config is not a leftover of an earlier run.
    let (topic, payload) = announcement("112233445566", "solarcam");
    assert!(h.message(&topic, payload).is_empty());
    // Someone else's camera entity with the same object id.
    let other = br#"{"name":"x","unique_id":"solarcam_112233445566_snapshot","topic":"solarcam/112233445566/snapshot"}"#;
    assert!(retained_message(
        &mut h,
        "homeassistant/camera/solarcam_112233445566/snapshot/config",
        other.to_vec()
    )
    .is_empty());
}

#[test]
fn discovered_cameras_are_saved_and_survive_a_restart() {
    let mut h = Harness::connected(two_cameras());
    let actions = h.event(Event::Message {
        topic: "4GSolarCam/Alarm/112233445566".into(),
        payload: Bytes::from_static(b"{}"),
        retain: false,
        received: h.wall,
    });
    let gate: Mac = "112233445566".parse().unwrap();
    assert!(actions.contains(&Action::SaveState(Saved {
        discovered: vec![gate],
        ..Saved::default()
    })));

    // The next run restores it, so its retained announcement is no ghost.
    let mut h = Harness::new(two_cameras());
    h.bridge.restore(Saved {
        discovered: vec![gate],
        ..Saved::default()
    });
    h.event(Event::Connected(Link::Ha));
    let (topic, payload) = announcement("112233445566", "solarcam");
    assert!(retained_message(&mut h, &topic, payload).is_empty());
    assert_eq!(h.bridge.camera_count(), 3);

    // Turning discovery of unknown cameras off removes it, and saves that.
    let mut cfg = two_cameras();
    cfg.discover_unknown = false;
    let actions = h.event(Event::ConfigReloaded(Box::new(cfg)));
    assert!(actions.contains(&Action::SaveState(Saved::default())));
    assert!(on(
        &publishes(actions),
        "homeassistant/camera/solarcam_112233445566/snapshot/config"
    )
    .payload
    .is_empty());
}

#[test]
fn a_rejected_file_raises_the_problem_sensor_and_a_good_one_clears_it() {
    let mut h = Harness::connected(two_cameras());
    let ps = publishes(h.event(Event::ConfigRejected {
        file: "/etc/solarcam-bridge/config.yaml".into(),
        errors: vec!["config.yaml:3: camera \"barn\": mac \"5CC5\" is not a MAC address".into()],
    }));
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "ON");
    let attrs = json(on(&ps, "solarcam/bridge/config_problem/attributes"));
    assert_eq!(
        attrs["errors"][0],
        "config.yaml:3: camera \"barn\": mac \"5CC5\" is not a MAC address"
    );
    // The cameras keep working on the last good configuration.
    let ps = h.message("solarcam/5CC5638AE24D/command", "wake");
    assert_eq!(ps[0].topic, "4GSolarCam/Wake/5CC5638AE24D");
    // A birth message republishes the problem too.
    let ps = h.message("homeassistant/status", "online");
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "ON");

    let ps = publishes(h.event(Event::ConfigReloaded(Box::new(two_cameras()))));
    assert_eq!(text(on(&ps, "solarcam/bridge/config_problem")), "OFF");
    assert_eq!(
        text(on(&ps, "solarcam/bridge/config_problem/attributes")),
        "{}"
    );
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
fn a_camera_is_awake_after_a_message_and_asleep_after_its_timeout_keeping_its_values() {
    let cfg = config(&format!(
        "awake_timeout: 2m\ncameras:\n  - mac: {DRIVEWAY}\n  - mac: {BARN}\n    awake_timeout: 30s\n"
    ));
    let mut h = Harness::connected(cfg);
    let ps = h.message(
        "4GSolarCam/Status",
        format!(r#"{{"mac":"{BARN}","battery":50}}"#),
    );
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/awake")), "awake");
    assert_eq!(
        text(on(&ps, "solarcam/5CC5638AE24D/last_seen")),
        "2023-11-14T22:13:20Z"
    );
    h.message("4GSolarCam/Alarm", format!(r#"{{"mac":"{DRIVEWAY}"}}"#));

    // Barn's own timeout: 30 s.
    let ps = h.advance(Duration::from_secs(30));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24D/awake")), "asleep");
    assert!(ps.iter().all(|p| !p.topic.contains("5CC5638AE24C/awake")));
    // Driveway's: the global 2 minutes.
    let ps = h.advance(Duration::from_secs(90));
    assert_eq!(text(on(&ps, "solarcam/5CC5638AE24C/awake")), "asleep");
    // Asleep is not unavailable: no availability change, values untouched.
    assert!(ps
        .iter()
        .all(|p| !p.topic.contains("availability") && !p.topic.ends_with("/battery")));
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

#[test]
fn diagnostics_are_published_at_most_every_few_seconds() {
    let mut h = Harness::connected(two_cameras());
    // Start-up publishes them once.
    for _ in 0..3 {
        let actions = h.event(Event::Message {
            topic: "4GSolarCam/Snapshot".into(),
            payload: Bytes::from_static(b"junk"),
            retain: false,
            received: h.wall,
        });
        assert!(all_publishes(actions)
            .iter()
            .all(|p| !p.topic.starts_with("solarcam/bridge/")));
    }
    h.now += DIAGNOSTICS_EVERY;
    h.bridge.handle_timeout(h.now);
    let ps = all_publishes(h.drain());
    assert_eq!(text(on(&ps, "solarcam/bridge/messages_received")), "3");
    assert_eq!(text(on(&ps, "solarcam/bridge/payloads_rejected")), "3");
    assert_eq!(text(on(&ps, "solarcam/bridge/payloads_unattributed")), "0");
    assert!(text(on(&ps, "solarcam/bridge/last_error")).contains("4-byte snapshot rejected"));
    // Nothing new: nothing published.
    h.now += DIAGNOSTICS_EVERY * 3;
    h.bridge.handle_timeout(h.now);
    assert!(h.drain().is_empty());
}

#[test]
fn a_lost_connection_counts_as_a_reconnect_and_is_the_last_error() {
    let mut h = Harness::connected(two_cameras());
    let lost = |link, reason: &str| Event::Disconnected {
        link,
        reason: reason.into(),
    };
    h.event(lost(Link::Ha, "connection reset"));
    // One broker: the camera link is the same connection, not a second reconnect.
    h.event(lost(Link::Camera, "connection reset"));
    // Not connected, so a second report of the same outage is not another reconnect.
    h.event(lost(Link::Ha, "connection refused"));
    assert_eq!(h.bridge.stats().reconnects, 1);
    assert_eq!(
        h.bridge.stats().last_error.as_deref(),
        Some("connection refused")
    );

    // With a camera broker of its own, its outages count too.
    let mut cfg = two_cameras();
    cfg.camera_mqtt = config("camera_mqtt:\n  url: mqtt://cams.example:1883\n").camera_mqtt;
    let mut h = Harness::connected(cfg);
    h.event(lost(Link::Camera, "camera broker: connection reset"));
    assert_eq!(h.bridge.stats().reconnects, 1);
}

#[test]
fn names_with_slashes_wildcards_quotes_and_non_ascii_stay_out_of_ids_and_topics() {
    let name = r#"Gate/#1 + "Süd" 🌞"#;
    let cfg = config(&format!(
        "cameras:\n  - mac: {DRIVEWAY}\n    name: '{name}'\n"
    ));
    let ps = publishes(Harness::new(cfg).event(Event::Connected(Link::Ha)));
    let valid = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/".contains(c))
    };
    for p in &ps {
        assert!(valid(&p.topic), "{}", p.topic);
    }
    let cam = json(on(
        &ps,
        "homeassistant/camera/solarcam_5cc5638ae24c/snapshot/config",
    ));
    assert_eq!(cam["device"]["name"], name);
    assert_eq!(cam["unique_id"], "solarcam_5cc5638ae24c_snapshot");
}

#[test]
fn a_payload_too_large_to_hold_an_allowed_snapshot_is_refused_unread() {
    let mut h = Harness::connected(config(&format!(
        "snapshot_max_bytes: 1024\ncameras:\n  - mac: {DRIVEWAY}\n"
    )));
    let huge = Bytes::from(vec![b'f'; 1024 * 4 + (64 << 10) + 1]);
    assert!(h.message("4GSolarCam/Snapshot", huge).is_empty());
    assert_eq!(h.bridge.stats().rejected, 1);
    assert!(h.last_error().contains("not read"));
}

#[test]
fn a_large_announcement_is_made_a_camera_at_a_time_in_order() {
    let mut yaml = String::from("cameras:\n");
    for i in 0..500u64 {
        yaml.push_str(&format!("  - mac: \"{:012X}\"\n", 0x0011_0000_0000u64 + i));
    }
    let mut b = Bridge::new(config(&yaml));
    b.handle(Event::Connected(Link::Ha), Instant::now());
    // Only the bridge's own entities and the subscription are queued up front.
    assert!(
        b.actions.len() < 20,
        "{} actions queued at once",
        b.actions.len()
    );
    let ps = all_publishes(std::iter::from_fn(|| b.poll_action()).collect());
    let configs = ps.iter().filter(|p| p.topic.ends_with("/config")).count();
    assert_eq!(configs, 500 * CONFIGS_PER_CAMERA + BRIDGE_CONFIGS);
    let availability = ps
        .iter()
        .position(|p| p.topic == "solarcam/bridge/availability")
        .unwrap();
    assert!(ps[..availability]
        .iter()
        .all(|p| p.topic.ends_with("/config")));
    assert!(ps[availability..]
        .iter()
        .all(|p| !p.topic.ends_with("/config")));
    assert!(!b.has_more());
}

mod hostile;

mod automations;

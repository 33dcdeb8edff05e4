//! The configuration's tests: what is accepted, and every message for what is not.

use super::locate::{locate, Seg};
use super::*;
use crate::protocol::{CameraTopic, TopicKind};

/// The embedded broker, when it is the one configured.
fn embedded_of(m: &Mqtt) -> Option<&EmbeddedBroker> {
    match m {
        Mqtt::Embedded(e) => Some(e),
        Mqtt::Remote(_) => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "config.yaml", None)
}

fn errors(text: &str) -> Vec<String> {
    parse(text)
        .expect_err("config should be rejected")
        .to_string()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_file_is_valid() {
    let text = include_str!("../../config.example.yaml");
    assert!(parse(text).unwrap().cameras.is_empty());
    // Its commented camera entries are valid once uncommented.
    let (head, cameras) = text.split_once("cameras: []").unwrap();
    let uncommented = format!("{head}cameras:{}", cameras.replace("\n#  ", "\n  "));
    let config = parse(&uncommented).unwrap();
    assert_eq!(config.cameras.len(), 2);
    assert_eq!(config.cameras[0].mac.to_string(), "5CC5638AE24C");
    assert_eq!(config.cameras[0].name, "Driveway");
    assert_eq!(config.cameras[0].area.as_deref(), Some("Garden"));
}

#[test]
fn an_empty_file_gives_every_default() {
    let c = parse("").unwrap();
    let embedded = embedded_of(&c.mqtt).expect("the embedded broker");
    assert_eq!(embedded.listen, "127.0.0.1:1883".parse().unwrap());
    // The bridge reaches it on loopback, at the port it actually listens on.
    let client = embedded.client("127.0.0.1:1883".parse().unwrap());
    assert_eq!(client.url.to_string(), "mqtt://127.0.0.1:1883");
    assert_eq!(embedded.client_id, "solarcam-bridge");
    assert_eq!(c.camera_mqtt, None);
    assert_eq!(c.camera_topic_prefix, "4GSolarCam");
    assert_eq!(c.discovery_prefix, "homeassistant");
    assert_eq!(c.base_topic, "solarcam");
    assert_eq!(c.alarm_off_after, Duration::from_secs(30));
    assert_eq!(c.snapshot_max_bytes, 1_900_000);
    assert!(c.discover_unknown);
    assert!(c.cameras.is_empty());
}

#[test]
fn a_bad_mac_names_file_line_camera_and_fix() {
    let text = "mqtt:\n  url: mqtt://127.0.0.1:1883\ncameras:\n  - mac: 5CC5638AE24C\n    name: Driveway\n  - name: barn\n    mac: 5CC5\n";
    assert_eq!(
        errors(text),
        vec![
            "config.yaml:7: camera \"barn\": mac \"5CC5\" is not a MAC address (12 hex digits, e.g. 5CC5638AE24C or 5C:C5:63:8A:E2:4C)"
        ]
    );
}

#[test]
fn every_error_is_listed_with_its_line() {
    let text = "\
mqtt:
  url: http://broker
alarm_off_after: soon
cameras:
  - mac: 5CC5638AE24C
    name: A
  - mac: 5c:c5:63:8a:e2:4c
    name: B
  - mac: nope
";
    let e = errors(text);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].starts_with("config.yaml:2: mqtt.url \"http://broker\": scheme \"http\""),
        "{}",
        e[0]
    );
    assert!(
        e[1].starts_with("config.yaml:3: alarm_off_after: \"soon\" is not a duration"),
        "{}",
        e[1]
    );
    assert_eq!(e[2], "config.yaml:7: camera \"B\": mac 5CC5638AE24C is already used by the camera at line 5; each camera must be listed once");
    assert!(
        e[3].starts_with("config.yaml:9: camera #3: mac \"nope\""),
        "{}",
        e[3]
    );
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let e = errors("cameras:\n  - mac: 5CC5638AE24C\n    nmae: Driveway\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("config.yaml:3: "), "{}", e[0]);
    assert!(e[0].contains("unknown field `nmae`"), "{}", e[0]);
    assert!(e[0].contains("`name`"), "{}", e[0]);
}

#[test]
fn camera_topics_default_under_the_prefix_and_take_the_web_pages_topics() {
    let c = parse("camera_topic_prefix: Solar\n").unwrap();
    assert_eq!(c.camera_topics, CameraTopics::under("Solar"));
    let c = parse(
        "camera_topics:\n  snapshot: home/gate/snapshot\n  status: home/+/status\n  alarm: alarms/#\n",
    )
    .unwrap();
    assert_eq!(
        c.camera_topics.get(TopicKind::Snapshot),
        "home/gate/snapshot"
    );
    assert_eq!(c.camera_topics.get(TopicKind::Status), "home/+/status");
    assert_eq!(c.camera_topics.get(TopicKind::Alarm), "alarms/#");
    assert_eq!(
        c.camera_topics.get(TopicKind::ConfigRespond),
        "4GSolarCam/ConfigRespond"
    );
    assert!(
        c.summary()
            .contains("camera topics: snapshot home/gate/snapshot"),
        "{}",
        c.summary()
    );
}

#[test]
fn a_bad_camera_topic_is_an_error_on_its_line() {
    let cases = [
        ("snapshot: \"\"", "is empty"),
        ("snapshot: a//b", "has an empty level"),
        ("snapshot: /a", "has an empty level"),
        ("alarm: a/#/b", "wildcard that is not a whole level"),
        ("alarm: a/b+", "wildcard that is not a whole level"),
        ("status: $SYS/x", "starts with '$'"),
        ("config_respond: \"a\\0b\"", "NUL"),
    ];
    for (line, problem) in cases {
        let e = errors(&format!("log_level: info\ncamera_topics:\n  {line}\n"));
        assert_eq!(e.len(), 1, "{line}: {e:?}");
        assert!(
            e[0].starts_with("config.yaml:3: camera_topics."),
            "{}",
            e[0]
        );
        assert!(e[0].contains(problem), "{line}: {}", e[0]);
        assert!(
            e[0].contains("copy the topic from the camera's web page"),
            "{}",
            e[0]
        );
    }
    let long = "a/".repeat(200) + "b";
    let e = errors(&format!("camera_topics:\n  snapshot: {long}\n"));
    assert!(e[0].contains("longer than 256 bytes"), "{}", e[0]);
}

#[test]
fn camera_topics_that_overlap_are_refused_naming_both() {
    let e = errors("camera_topics:\n  snapshot: cams/+\n  alarm: cams/alarm\n");
    assert_eq!(
        e,
        ["config.yaml:3: camera_topics.alarm \"cams/alarm\" overlaps snapshot \"cams/+\": a message on both could not be told apart; give each kind its own topic"]
    );
    // `<topic>/<MAC>` is read too: a kind under another's topic, at a level that can hold a MAC,
    // overlaps it (`4GSolarCam/Snapshot/x` does not: `x` is no MAC).
    parse("camera_topics:\n  status: 4GSolarCam/Snapshot/x\n").unwrap();
    let e = errors("camera_topics:\n  status: 4GSolarCam/Snapshot/+\n");
    assert!(
        e[0].starts_with("config.yaml:2: camera_topics.status"),
        "{e:?}"
    );
    // The camera's own request topic counts: it is not read, but nothing else may be read there.
    let e = errors("camera_topics:\n  config_request: 4GSolarCam/Alarm\n");
    assert!(e[0].contains("overlaps alarm"), "{e:?}");
}

#[test]
fn a_mac_level_overlaps_only_a_level_that_can_hold_a_mac() {
    // `farm/status/<MAC>` (status's second form) and `farm/+/pic` share no topic: `pic` is no MAC.
    for kind in ["status", "alarm"] {
        let text = format!("camera_topics:\n  snapshot: farm/+/pic\n  {kind}: farm/{kind}\n");
        let c = Config::parse(&text, "config.yaml", None).unwrap();
        let t = &c.camera_topics;
        let snapshot = |topic: &str| matches!(t.parse(topic), Some(CameraTopic::Snapshot(_)));
        assert!(snapshot("farm/barn/pic") && snapshot(&format!("farm/{kind}/pic")));
        let own = format!("farm/{kind}/5CC5638AE24C");
        assert!(t.parse(&own).is_some() && !snapshot(&own), "{own}");
    }
    // A level that is a MAC, in any spelling the bridge reads, does overlap.
    for mac in ["5CC5638AE24C", "5c:c5:63:8a:e2:4c", "5C-C5-63-8A-E2-4C"] {
        let e = errors(&format!(
            "camera_topics:\n  snapshot: farm/+/{mac}\n  status: farm/status\n"
        ));
        assert!(e[0].contains("overlaps"), "{mac}: {e:?}");
    }
}

#[test]
fn a_camera_topic_taking_in_the_bridges_commands_or_own_topics_is_refused() {
    let e = errors("camera_topics:\n  alarm: 4GSolarCam/Wake/+\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("takes in the wake commands the bridge sends (4GSolarCam/Wake/<MAC>)"),
        "{}",
        e[0]
    );
    let e = errors("camera_topics:\n  snapshot: \"#\"\n");
    assert!(
        e.iter()
            .any(|e| e.contains("the reboot, shutdown and upgrade commands")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|e| e.contains("the bridge's own topics (solarcam/#)")),
        "{e:?}"
    );
    // On a camera broker of its own, the bridge's topics are not there to take in.
    let separate =
        "camera_mqtt:\n  url: mqtt://cams.example.com\ncamera_topics:\n  snapshot: homeassistant/x\n";
    assert!(parse(separate).is_ok());
    let e = errors("camera_topics:\n  snapshot: homeassistant/x\n");
    assert!(e[0].contains("(homeassistant/#)"), "{e:?}");
    // Status reports share the status request topic by the vendor's design.
    assert!(parse("camera_topics:\n  status: 4GSolarCam/Status\n").is_ok());
}

#[test]
fn alpn_is_a_list_or_one_name_and_only_for_mqtts() {
    let c = parse("camera_mqtt:\n  url: mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:443\n  alpn: x-amzn-mqtt-ca\n")
        .unwrap();
    assert_eq!(c.camera_mqtt.unwrap().alpn, ["x-amzn-mqtt-ca"]);
    let c = parse("mqtt:\n  url: mqtts://broker:8883\n  alpn: [mqtt, x-amzn-mqtt-ca]\n").unwrap();
    let Mqtt::Remote(b) = c.mqtt else {
        panic!("not remote")
    };
    assert_eq!(b.alpn, ["mqtt", "x-amzn-mqtt-ca"]);
    for url in ["mqtt://broker", "wss://broker/mqtt"] {
        let e = errors(&format!(
            "camera_mqtt:\n  url: {url}\n  alpn: x-amzn-mqtt-ca\n"
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("config.yaml:3: camera_mqtt.alpn is for mqtts:// URLs"),
            "{}",
            e[0]
        );
    }
    let e = errors("camera_mqtt:\n  url: mqtts://broker\n  alpn: [\"\", \"a b\"]\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[1].contains("\"a b\" is not a protocol name"), "{}", e[1]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A value for a key: numbers, words, durations, sizes, nonsense, nested maps and lists.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            "[a-z0-9:./ -]{0,16}",
            Just("30s".to_string()),
            Just("2GB".to_string()),
            Just("true".to_string()),
            Just("[1, 2]".to_string()),
            Just("{a: b}".to_string()),
            Just("\"5C:C5:63:8A:E2:4C\"".to_string()),
            "\\PC{0,12}",
        ]
    }

    fn key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "mqtt",
            "camera_mqtt",
            "camera_topic_prefix",
            "discovery_prefix",
            "base_topic",
            "alarm_off_after",
            "awake_timeout",
            "command_timeout",
            "wake_retries",
            "snapshot_max_bytes",
            "discover_unknown",
            "discover_max",
            "alarm_snapshot_window",
            "archive",
            "log_level",
            "state_dir",
            "cameras",
            "unknown_key",
        ])
    }

    /// A camera topic: levels from a small alphabet (so that collisions are likely), wildcards,
    /// and the bad forms.
    /// The words the camera topics are made of, and a MAC in two spellings.
    const WORDS: [&str; 11] = [
        "a",
        "b",
        "4GSolarCam",
        "Wake",
        "Config",
        "Status",
        "solarcam",
        "homeassistant",
        "pic",
        "5CC5638AE24C",
        "5c:c5:63:8a:e2:4c",
    ];

    /// A topic of up to four levels of [`WORDS`] that is two kinds', or one kind's and the
    /// bridge's (a command to a camera, or its own topics on the same broker).
    fn overlap_witness(t: &crate::protocol::CameraTopics) -> Option<String> {
        crate::test_support::topics_of(&WORDS, 4)
            .into_iter()
            .find(|topic| {
                let kinds: Vec<TopicKind> = TopicKind::ALL
                    .into_iter()
                    .filter(|&k| t.takes(k, topic))
                    .collect();
                let levels: Vec<&str> = topic.split('/').collect();
                let command = |k: TopicKind| match levels[..] {
                    ["4GSolarCam", "Wake" | "Config", mac] => {
                        mac.parse::<crate::mac::Mac>().is_ok()
                    }
                    ["4GSolarCam", "Status", mac] => {
                        k != TopicKind::Status && mac.parse::<crate::mac::Mac>().is_ok()
                    }
                    _ => false,
                };
                let own = matches!(levels[0], "solarcam" | "homeassistant");
                kinds.len() > 1 || kinds.iter().any(|&k| command(k) || own)
            })
    }

    fn camera_topic() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just("+"),
                Just("#"),
                Just(""),
                Just("4GSolarCam"),
                Just("Wake"),
                Just("Status"),
                Just("solarcam"),
                Just("pic"),
                Just("5CC5638AE24C"),
                Just("x+"),
            ],
            1..4,
        )
        .prop_map(|levels| levels.join("/"))
    }

    proptest! {
        /// Whatever camera topics are given: an accepted set lets no topic be two kinds' (as the
        /// reader itself decides, on every topic of up to four levels from the filters' own
        /// words and a MAC), nor takes in the bridge's commands (other than the vendor's shared
        /// status topic) or its own topics; and a set refused only for overlaps has a topic that
        /// shows one.
        #[test]
        fn camera_topics_are_refused_exactly_when_a_message_could_be_two_things(
            topics in proptest::collection::vec(camera_topic(), 5)
        ) {
            let keys = ["snapshot", "status", "alarm", "config_request", "config_respond"];
            let mut text = "camera_topics:\n".to_string();
            for (k, t) in keys.iter().zip(&topics) {
                text.push_str(&format!("  {k}: \"{t}\"\n"));
            }
            // Every kind set from the same list, so a witness is searched for on those words.
            let t = topics.iter().zip(TopicKind::ALL).fold(
                crate::protocol::CameraTopics::under("4GSolarCam"),
                |t, (f, kind)| t.with(kind, f.clone()),
            );
            let witness = overlap_witness(&t);
            match Config::parse(&text, "config.yaml", None) {
                Ok(_) => prop_assert!(witness.is_none(), "accepted, yet {witness:?}"),
                Err(e) => {
                    let only_overlaps = e.errors.iter().all(|e| {
                        e.message.contains(" overlaps ") || e.message.contains(" takes in ")
                    });
                    if only_overlaps {
                        prop_assert!(witness.is_some(), "refused with no overlap: {e}");
                    }
                }
            }
        }

        /// Any text: a configuration or a list of errors, never a panic; every error names
        /// the file.
        #[test]
        fn any_text_gives_a_config_or_errors(text in "\\PC{0,300}") {
            if let Err(e) = Config::parse(&text, "config.yaml", None) {
                prop_assert!(!e.errors.is_empty());
                prop_assert!(e.to_string().starts_with("config.yaml"));
            }
        }

        /// Files of the right shape with values of any kind: the same, and what is accepted
        /// is within the documented ranges.
        #[test]
        fn any_values_for_the_known_keys_give_a_config_in_range_or_errors(
            entries in proptest::collection::vec((key(), value()), 0..8),
            cameras in proptest::collection::vec((value(), value()), 0..3),
        ) {
            let mut text = String::new();
            for (k, v) in entries {
                if k != "cameras" {
                    text.push_str(&format!("{k}: {v}\n"));
                }
            }
            text.push_str("cameras:\n");
            for (mac, name) in cameras {
                text.push_str(&format!("  - mac: {mac}\n    name: {name}\n"));
            }
            if let Ok(c) = Config::parse(&text, "config.yaml", None) {
                prop_assert!(c.discover_max <= 1000);
                prop_assert!((1024..=256 * 1024 * 1024).contains(&c.snapshot_max_bytes));
                prop_assert!((1..=20).contains(&c.wake_retries));
                prop_assert!(!c.alarm_off_after.is_zero() && !c.awake_timeout.is_zero());
                prop_assert!(c.archive.as_ref().is_none_or(|a| a.max_size >= 1 << 20));
            }
        }
    }
}

#[test]
fn broken_yaml_is_reported_with_its_line() {
    let e = errors("cameras:\n  - mac: [\n");
    assert_eq!(e.len(), 1);
    // The unclosed `[` of line 2 is found at the end of the text, line 3.
    assert!(e[0].starts_with("config.yaml:3: "), "{}", e[0]);
    let e = errors("log_level: info\ncameras:\n  - mac: 5CC5638AE24C\n    name: a: b\n");
    assert!(e[0].starts_with("config.yaml:4: "), "{}", e[0]);
}

#[test]
fn a_mac_read_as_a_number_asks_for_quotes() {
    let e = errors("cameras:\n  - mac: 1234\n");
    assert!(e[0].contains("put it in quotes"), "{}", e[0]);
    let ok = parse("cameras:\n  - mac: 112233445566\n").unwrap();
    assert_eq!(ok.cameras[0].mac.to_string(), "112233445566");
}

#[test]
fn a_camera_without_a_name_gets_one_from_its_mac() {
    let c = parse("cameras:\n  - mac: 5c-c5-63-8a-e2-4c\n").unwrap();
    assert_eq!(c.cameras[0].name, "SC211 5CC5638AE24C");
}

#[test]
fn urls_take_every_form() {
    let u: BrokerUrl = "mqtts://broker.example.com".parse().unwrap();
    assert_eq!(
        (u.tls, u.host.as_str(), u.port),
        (true, "broker.example.com", 8883)
    );
    let u: BrokerUrl = "mqtt://[::1]:1884".parse().unwrap();
    assert_eq!((u.tls, u.host.as_str(), u.port), (false, "::1", 1884));
    assert_eq!(u.to_string(), "mqtt://[::1]:1884");
    assert!("mqtt://host:0".parse::<BrokerUrl>().is_err());
    assert!("mqtt://host:99999".parse::<BrokerUrl>().is_err());
    assert!("127.0.0.1:1883".parse::<BrokerUrl>().is_err());
    // MQTT over WebSocket: a path, default ports 80 and 443, shown as written.
    for (text, tls, host, port, path, shown) in [
        (
            "ws://broker.emqx.io:8083/mqtt",
            false,
            "broker.emqx.io",
            8083,
            "/mqtt",
            "ws://broker.emqx.io:8083/mqtt",
        ),
        (
            "wss://broker.hivemq.com:8884/mqtt",
            true,
            "broker.hivemq.com",
            8884,
            "/mqtt",
            "wss://broker.hivemq.com:8884/mqtt",
        ),
        ("ws://host", false, "host", 80, "/", "ws://host:80/"),
        (
            "WSS://[::1]/a/b",
            true,
            "::1",
            443,
            "/a/b",
            "wss://[::1]:443/a/b",
        ),
    ] {
        let u: BrokerUrl = text.parse().unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.websocket.as_deref()),
            (tls, host, port, Some(path)),
            "{text}"
        );
        assert_eq!(u.to_string(), shown);
    }
    let u: BrokerUrl = "mqtt://host/".parse().unwrap();
    assert_eq!(u.websocket, None);
    let e = "mqtt://host:1883/mqtt".parse::<BrokerUrl>().unwrap_err();
    assert!(e.contains("only ws:// and wss:// take one"), "{e}");
    let e = "ws://host:8083/mqtt?x=1".parse::<BrokerUrl>().unwrap_err();
    assert!(e.contains("has a query or fragment"), "{e}");
    let e = "http://host".parse::<BrokerUrl>().unwrap_err();
    assert!(e.contains("ws://HOST:PORT/PATH"), "{e}");
}

#[test]
fn credentials_in_the_url_are_refused_without_echoing_them() {
    let e = errors("mqtt:\n  url: mqtt://user:hunter2@host:1883\n");
    assert!(!e[0].contains("hunter2"), "{}", e[0]);
    assert!(e[0].contains("username"), "{}", e[0]);
    // Whatever else is wrong with the URL, its user-info never shows.
    for url in [
        "wss://user:hunter2@host",
        "user:hunter2@host:1883",
        "mqtt://user:hunter2@host:99999",
        "mqtt://user:hunter2@host/path",
        "mqtt://user:hunter2@[::1",
        "mqtt://hunter2@",
        "mqtt://a@b:hunter2@host",
    ] {
        let e = url.parse::<BrokerUrl>().unwrap_err();
        assert!(!e.contains("hunter2"), "{url}: {e}");
        let e = errors(&format!("mqtt:\n  url: {url}\n"));
        assert!(e.iter().all(|e| !e.contains("hunter2")), "{url}: {e:?}");
    }
}

#[test]
fn user_info_is_redacted_from_any_url() {
    assert_eq!(redact_userinfo("wss://u:p@h:1/x?y"), "wss://***@h:1/x?y");
    assert_eq!(redact_userinfo("u:p@h"), "***@h");
    assert_eq!(redact_userinfo("mqtt://h:1883"), "mqtt://h:1883");
    assert_eq!(redact_userinfo("mqtt://h/a@b"), "mqtt://h/a@b");
}

#[test]
fn the_archive_takes_a_directory_an_age_and_a_size() {
    let c = parse("archive:\n  dir: /media/solarcam\n  keep: 7d\n  max_size: 500MB\n").unwrap();
    let a = c.archive.unwrap();
    assert_eq!(a.dir, PathBuf::from("/media/solarcam"));
    assert_eq!(a.keep, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(a.max_size, 500_000_000);
    let a = parse("archive:\n  dir: /x\n").unwrap().archive.unwrap();
    assert_eq!(
        (a.keep, a.max_size),
        (Duration::from_secs(14 * 24 * 3600), 2_000_000_000)
    );
    assert!(parse("").unwrap().archive.is_none());
    let e = errors("archive:\n  dir: /x\n  max_size: lots\n");
    assert!(
        e[0].starts_with("config.yaml:3: archive.max_size"),
        "{}",
        e[0]
    );
    assert_eq!(parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(parse_size("1.5 GB"), Ok(1_500_000_000));
    assert_eq!(parse_size("300000"), Ok(300_000));
    assert!(parse_size("-1GB").is_err());
}

#[test]
fn a_password_in_plaintext_to_another_machine_is_warned_about() {
    let warned = |mqtt: &str| {
        let w = parse(&format!(
            "mqtt:\n  username: u\n  password: hunter2\n{mqtt}"
        ))
        .unwrap()
        .security_warnings()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
        assert!(w.iter().all(|w| !w.contains("hunter2")), "{w:?}");
        w.iter().any(|w| w.contains("without encryption"))
    };
    assert!(warned("  url: mqtt://broker.example.com\n"));
    assert!(warned("  url: mqtt://192.168.1.5\n"));
    assert!(!warned("  url: mqtts://broker.example.com\n"));
    assert!(!warned("  url: mqtt://localhost\n"));
    assert!(!warned("  url: mqtt://127.0.0.1:1884\n"));
    assert!(!warned("  url: mqtt://[::1]:1884\n"));
    // No password, nothing to leak.
    let w = parse("mqtt:\n  url: mqtt://broker.example.com\n")
        .unwrap()
        .security_warnings();
    assert!(w.is_empty(), "{w:?}");
}

#[cfg(unix)]
#[test]
fn password_and_key_files_others_can_read_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for f in ["pw", "key.pem"] {
        std::fs::write(dir.path().join(f), "hunter2\n").unwrap();
    }
    let text = "mqtt:\n  url: mqtts://localhost\n  username: u\n  password_file: pw\n  \
                    client_cert: key.pem\n  client_key: key.pem\n";
    let warnings = |mode: u32| {
        for f in ["pw", "key.pem"] {
            let perms = std::fs::Permissions::from_mode(mode);
            std::fs::set_permissions(dir.path().join(f), perms).unwrap();
        }
        Config::parse(text, "config.yaml", Some(dir.path()))
            .unwrap()
            .security_warnings()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    let w = warnings(0o644);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("mqtt.password_file: any user"), "{w:?}");
    assert!(w[1].starts_with("mqtt.client_key: any user"), "{w:?}");
    assert!(w.iter().all(|w| !w.contains("hunter2")));
    assert!(warnings(0o640).is_empty());
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let c = parse("mqtt:\n  username: u\n  password: hunter2\n").unwrap();
    assert_eq!(
        c.mqtt.remote().unwrap().password.as_ref().unwrap().expose(),
        "hunter2"
    );
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn password_file_is_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let c = Config::parse(
        "mqtt:\n  username: u\n  password_file: pw\n",
        "config.yaml",
        Some(dir.path()),
    )
    .unwrap();
    assert_eq!(
        c.mqtt.remote().unwrap().password.as_ref().unwrap().expose(),
        "s3cret"
    );
    let e = Config::parse(
        "mqtt:\n  username: u\n  password_file: missing\n",
        "config.yaml",
        Some(dir.path()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("config.yaml:3: mqtt.password_file: cannot read"),
        "{e}"
    );
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
    assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
    assert!(parse_duration("-3").is_err());
    assert!(parse_duration("NaN").is_err());
}

#[test]
fn prefixes_with_wildcards_are_refused() {
    let e = errors("base_topic: solar/#\n");
    assert!(e[0].starts_with("config.yaml:1: base_topic"), "{}", e[0]);
}

#[test]
fn locate_follows_nested_lists() {
    let text = "a: 1\ncameras:\n  # comment\n  - name: x\n    mac: 1\n  -\n    mac: 2\n";
    assert_eq!(locate(text, &[Seg::Key("cameras")]), Some(2));
    assert_eq!(
        locate(text, &[Seg::Key("cameras"), Seg::Index(0), Seg::Key("mac")]),
        Some(5)
    );
    assert_eq!(
        locate(text, &[Seg::Key("cameras"), Seg::Index(1), Seg::Key("mac")]),
        Some(7)
    );
    assert_eq!(locate(text, &[Seg::Key("cameras"), Seg::Index(2)]), None);
}

#[test]
fn the_embedded_broker_open_to_the_network_needs_a_login_or_an_explicit_choice() {
    let e = errors("mqtt:\n  embedded: true\n  listen: 0.0.0.0:1883\n");
    assert!(
        e[0].starts_with(
            "config.yaml:3: mqtt.listen 0.0.0.0:1883 accepts clients from other machines"
        ),
        "{}",
        e[0]
    );
    let c = parse("mqtt:\n  embedded: true\n  listen: 0.0.0.0:1883\n  allow_anonymous: true\n")
        .unwrap();
    assert!(embedded_of(&c.mqtt).unwrap().allow_anonymous);
    assert!(parse("mqtt:\n  embedded: true\n  listen: 127.0.0.1:1883\n").is_ok());
    // A username alone would let in anyone who guesses it.
    let e = errors("mqtt:\n  embedded: true\n  username: home\n");
    assert!(
        e[0].starts_with("config.yaml:3: mqtt: the embedded broker needs a password"),
        "{}",
        e[0]
    );
    // Only the embedded broker takes the setting.
    let e = errors("mqtt:\n  url: mqtt://host\n  allow_anonymous: true\n");
    assert!(
        e[0].contains("allow_anonymous is for the embedded broker"),
        "{}",
        e[0]
    );
}

#[test]
fn the_embedded_broker_is_chosen_or_refused_clearly() {
    let c =
        parse("mqtt:\n  embedded: true\n  listen: 0.0.0.0:1884\n  username: cam\n  password: pw\n")
            .unwrap();
    let embedded = embedded_of(&c.mqtt).expect("the embedded broker");
    assert_eq!(embedded.listen, "0.0.0.0:1884".parse().unwrap());
    // Listening on every address, it is reached on loopback.
    let client = embedded.client("0.0.0.0:1884".parse().unwrap());
    assert_eq!(client.url.to_string(), "mqtt://127.0.0.1:1884");
    assert_eq!(client.username.as_deref(), Some("cam"));
    assert!(
        c.summary().contains("embedded broker on 0.0.0.0:1884"),
        "{}",
        c.summary()
    );
    // A broker of one's own, by url, is not embedded.
    assert!(embedded_of(&parse("mqtt:\n  url: mqtt://10.0.0.2\n").unwrap().mqtt).is_none());

    let e = errors("mqtt:\n  embedded: true\n  url: mqtt://host\n");
    assert!(
        e[0].starts_with("config.yaml:3: mqtt: `url` and `embedded: true` exclude each other"),
        "{}",
        e[0]
    );
    let e = errors("mqtt:\n  listen: 127.0.0.1:1883\n");
    assert!(
        e[0].starts_with("config.yaml:2: mqtt.listen is for the embedded broker"),
        "{}",
        e[0]
    );
    let e = errors("mqtt:\n  embedded: true\n  listen: localhost\n");
    assert!(
        e[0].starts_with("config.yaml:3: mqtt.listen \"localhost\" is not an address"),
        "{}",
        e[0]
    );
    let e = errors("camera_mqtt:\n  embedded: true\n");
    assert!(e[0].contains("camera_mqtt cannot be embedded"), "{}", e[0]);
}

#[cfg(unix)]
#[test]
fn an_inline_password_in_a_file_others_can_read_is_warned_about_and_only_then() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let shown = path.display().to_string();
    let warned = |text: &str, mode: u32| -> Vec<String> {
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Config::load(&path)
            .unwrap()
            .warnings
            .into_iter()
            .filter(|w| w.contains("holds a password"))
            .collect()
    };
    let inline = "mqtt:\n  url: mqtt://127.0.0.1\n  username: ha\n  password: s3cret-inline\n";
    assert_eq!(
        warned(inline, 0o644),
        [format!(
            "{shown} holds a password and any user on this machine can read it; run `chmod o-r {shown}` (or move the password to password_file)"
        )]
    );
    // The same on the camera broker's side.
    let camera =
        "camera_mqtt:\n  url: mqtt://127.0.0.1\n  username: cams\n  password: s3cret-inline\n";
    assert_eq!(warned(camera, 0o604).len(), 1);
    // Not for a file others cannot read, nor for a password that is not in the file.
    assert!(warned(inline, 0o640).is_empty());
    assert!(warned(
        "mqtt:\n  url: mqtt://127.0.0.1\n  username: ha\n  password_env: HOME\n",
        0o644
    )
    .is_empty());
    assert!(warned("cameras: []\n", 0o644).is_empty());
    // The warning never holds the password itself.
    std::fs::write(&path, inline).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let all = Config::load(&path).unwrap().warnings.join("\n");
    assert!(!all.contains("s3cret-inline"), "{all}");
}

//! The Home Assistant add-on repository (packaging/home-assistant/) as the Supervisor reads it.
//!
//! The Supervisor skips an add-on whose config.yaml it cannot read, with a warning only in its own
//! log: the repository then shows up empty in the store. So every key is checked here against the
//! Supervisor's schema (supervisor/addons/validate.py, `_SCHEMA_ADDON_CONFIG`, and
//! supervisor/addons/options.py, `RE_SCHEMA_ELEMENT`), and the options against the binary's own
//! reader.

use std::path::Path;
use std::time::Duration;

use serde_norway::Value;
use solarcam_bridge::addon::{self, MqttService, Shares};
use solarcam_bridge::protocol::{CameraTopics, TopicKind};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/home-assistant");

fn yaml(path: &str) -> Value {
    let path = Path::new(ROOT).join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> serde_norway::Mapping {
    yaml("solarcam-bridge/config.yaml")
        .as_mapping()
        .expect("config.yaml is a mapping")
        .clone()
}

fn keys(v: &Value) -> Vec<String> {
    v.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The keys `_SCHEMA_ADDON_CONFIG` knows; any other is dropped by the Supervisor.
const ALLOWED: &[&str] = &[
    "name",
    "version",
    "slug",
    "description",
    "arch",
    "machine",
    "url",
    "startup",
    "boot",
    "init",
    "advanced",
    "stage",
    "ports",
    "ports_description",
    "watchdog",
    "webui",
    "ingress",
    "ingress_port",
    "ingress_entry",
    "ingress_stream",
    "panel_icon",
    "panel_title",
    "panel_admin",
    "homeassistant",
    "host_network",
    "host_pid",
    "host_ipc",
    "host_uts",
    "host_dbus",
    "devices",
    "udev",
    "tmpfs",
    "map",
    "environment",
    "privileged",
    "apparmor",
    "full_access",
    "audio",
    "video",
    "gpio",
    "usb",
    "uart",
    "devicetree",
    "kernel_modules",
    "realtime",
    "hassio_api",
    "hassio_role",
    "homeassistant_api",
    "stdin",
    "legacy",
    "docker_api",
    "auth_api",
    "services",
    "discovery",
    "backup_exclude",
    "backup_pre",
    "backup_post",
    "backup",
    "options",
    "schema",
    "image",
    "ulimits",
    "timeout",
    "journald",
    "breaking_versions",
];

/// `RE_SCHEMA_ELEMENT`: a type, a type with a range, `match(...)` or `list(a|b)`, optionally `?`.
fn is_schema_element(s: &str) -> bool {
    let s = s.strip_suffix('?').unwrap_or(s);
    let range = |inner: &str, number: fn(&str) -> bool| {
        inner
            .split_once(',')
            .is_some_and(|(a, b)| (a.is_empty() || number(a)) && (b.is_empty() || number(b)))
    };
    fn uint(n: &str) -> bool {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    }
    fn int(n: &str) -> bool {
        uint(n.strip_prefix('-').unwrap_or(n))
    }
    fn float(n: &str) -> bool {
        n.parse::<f64>().is_ok()
    }
    let args = |name: &str| {
        s.strip_prefix(name)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
    };
    matches!(
        s,
        "bool" | "email" | "url" | "port" | "device" | "str" | "password" | "int" | "float"
    ) || args("str").is_some_and(|a| range(a, uint))
        || args("password").is_some_and(|a| range(a, uint))
        || args("int").is_some_and(|a| range(a, int))
        || args("float").is_some_and(|a| range(a, float))
        || args("match").is_some()
        || args("list").is_some_and(|a| !a.is_empty())
}

#[test]
fn the_manifest_uses_only_keys_the_supervisor_reads() {
    let m = manifest();
    for key in keys(&Value::Mapping(m.clone())) {
        assert!(
            ALLOWED.contains(&key.as_str()),
            "config.yaml: {key} is not an add-on key"
        );
    }
    for required in ["name", "version", "slug", "description", "arch"] {
        assert!(m.contains_key(required), "config.yaml has no {required}");
    }
    let slug = m["slug"].as_str().unwrap();
    assert!(slug
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    let arch: Vec<&str> = m["arch"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    // The Supervisor's CpuArch (supervisor/const.py) is aarch64 and amd64 since 2026.03; armv7,
    // armhf and i386 are ARCH_DEPRECATED, warned about and no longer installed.
    assert_eq!(arch, ["aarch64", "amd64"]);
    let services: Vec<&str> = m["services"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(services, ["mqtt:need"]);
    let image = m["image"].as_str().unwrap();
    assert!(image.contains("{arch}"), "image {image} has no {{arch}}");
    // build.sh tags each image with this name, {arch} replaced.
    let build = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/container/build.sh"
    ))
    .unwrap();
    let prefix = image.trim_end_matches("{arch}").trim_end_matches('-');
    assert!(
        build.contains(&format!("registry_name={prefix}")),
        "build.sh does not tag {image}"
    );
    // ... and builds an image for each architecture the add-on lists (armv7 too, for Docker).
    let built = build
        .lines()
        .find_map(|l| l.trim().strip_prefix("[ ${#arches[@]} -gt 0 ] || arches=("))
        .expect("build.sh's default architectures");
    for a in &arch {
        assert!(
            built.split([' ', ')']).any(|b| b == *a),
            "build.sh builds no {a} image"
        );
    }
    assert!(
        built.contains("armv7"),
        "the Docker image keeps 32-bit Raspberry Pi OS"
    );
    let timeout = m["timeout"].as_u64().unwrap();
    assert!((10..=300).contains(&timeout));
    // The shares it maps, in the Supervisor's RE_VOLUME syntax: the media folder writable (the
    // archive), the certificates read-only.
    let map: Vec<&str> = m["map"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(map, ["media:rw", "ssl"]);
}

#[test]
fn the_version_follows_cargo_toml() {
    let m = manifest();
    assert_eq!(m["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    let changelog =
        std::fs::read_to_string(Path::new(ROOT).join("solarcam-bridge/CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## {}", env!("CARGO_PKG_VERSION"))),
        "CHANGELOG.md has no entry for {}",
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn every_schema_element_is_one_the_supervisor_parses() {
    fn walk(path: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => assert!(is_schema_element(s), "schema {path}: {s:?} is not a type"),
            Value::Sequence(items) => {
                assert_eq!(
                    items.len(),
                    1,
                    "schema {path}: a list holds one element type"
                );
                walk(&format!("{path}[]"), &items[0], out);
            }
            Value::Mapping(m) => {
                for (k, v) in m {
                    let k = k.as_str().unwrap();
                    out.push(format!("{path}{k}"));
                    walk(&format!("{path}{k}."), v, out);
                }
            }
            other => panic!("schema {path}: {other:?}"),
        }
    }
    let mut names = Vec::new();
    walk("", &manifest()["schema"], &mut names);
    assert!(names.contains(&"cameras".to_string()));
    // The checker itself: forms the Supervisor refuses.
    for bad in ["string", "str=x", "int(a,b)", "list()", "bool??"] {
        assert!(!is_schema_element(bad), "{bad}");
    }
}

#[test]
fn every_option_has_a_schema_entry_and_a_label() {
    let m = manifest();
    let schema = keys(&m["schema"]);
    let labels = yaml("solarcam-bridge/translations/en.yaml");
    let labelled = keys(&labels["configuration"]);
    for key in keys(&m["options"]) {
        assert!(schema.contains(&key), "option {key} has no schema entry");
    }
    let docs = std::fs::read_to_string(Path::new(ROOT).join("solarcam-bridge/DOCS.md")).unwrap();
    for key in &schema {
        assert!(
            labelled.contains(key),
            "translations/en.yaml does not label {key}"
        );
        let entry = &labels["configuration"][key.as_str()];
        assert!(
            entry["name"].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: no name"
        );
        assert!(
            entry["description"].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: no description"
        );
        assert!(
            docs.contains(&format!("`{key}`")),
            "DOCS.md does not mention {key}"
        );
    }
    for key in &labelled {
        assert!(
            schema.contains(key),
            "translations/en.yaml labels {key}, which is not an option"
        );
    }
}

fn service() -> MqttService {
    serde_json::from_value(serde_json::json!({"host": "core-mosquitto", "port": 1883})).unwrap()
}

/// One value for each key of the add-on's schema.
fn every_option() -> serde_json::Value {
    serde_json::json!({
        "cameras": [{"mac": "5CC5638AE24C", "name": "Driveway", "area": "Garden"}],
        "discover_unknown": false,
        "discover_max": 3,
        "alarm_off_after": 60,
        "awake_timeout": 300,
        "camera_mqtt_url": "mqtts://cams.example.net:443",
        "camera_mqtt_username": "cams",
        "camera_mqtt_password": "pw",
        "camera_mqtt_ca_file": "cams/ca.pem",
        "camera_mqtt_client_cert": "cams/client.pem",
        "camera_mqtt_client_key": "cams/client.key",
        "camera_mqtt_alpn": "x-amzn-mqtt-ca",
        "log_level": "debug",
        "camera_topic_prefix": "Cams",
        "snapshot_topic": "home/+/snapshot",
        "status_topic": "home/+/status",
        "alarm_topic": "home/+/alarm",
        "config_request_topic": "home/+/config/request",
        "config_respond_topic": "home/+/config/respond",
        "discovery_prefix": "ha",
        "base_topic": "sc",
        "alarm_snapshot_window": 20,
        "snapshot_max_bytes": 900000,
        "archive": true,
        "archive_keep_days": 7,
        "archive_max_size_mb": 500,
    })
}

#[test]
fn the_default_options_and_every_option_are_read_by_the_binary() {
    // The defaults, as the Supervisor writes them on first start.
    let defaults = serde_json::to_string_pretty(&manifest()["options"]).unwrap();
    let config = addon::parse(&defaults, "options.json", &service(), &Shares::default())
        .expect("the defaults are valid");
    assert!(config.cameras.is_empty() && config.discover_unknown);

    // One value for each schema key: the binary knows them all (it refuses unknown keys).
    let all = every_option();
    let schema = keys(&manifest()["schema"]);
    let given: Vec<String> = all.as_object().unwrap().keys().cloned().collect();
    let mut sorted = schema.clone();
    sorted.sort();
    assert_eq!(given, sorted, "this test sets every schema key");
    let shares = Shares {
        media: "/media".into(),
        ssl: "/ssl".into(),
    };
    let config = addon::parse(
        &serde_json::to_string_pretty(&all).unwrap(),
        "options.json",
        &service(),
        &shares,
    )
    .expect("every option is read");
    assert_eq!(config.discover_max, 3);
    assert_eq!(config.camera_topic_prefix, "Cams");
    assert_eq!(
        config.camera_topics,
        CameraTopics::under("Cams")
            .with(TopicKind::Snapshot, "home/+/snapshot".into())
            .with(TopicKind::Status, "home/+/status".into())
            .with(TopicKind::Alarm, "home/+/alarm".into())
            .with(TopicKind::ConfigRequest, "home/+/config/request".into())
            .with(TopicKind::ConfigRespond, "home/+/config/respond".into())
    );
    assert_eq!(config.discovery_prefix, "ha");
    assert_eq!(config.base_topic, "sc");
    assert_eq!(config.alarm_snapshot_window, Duration::from_secs(20));
    assert_eq!(config.snapshot_max_bytes, 900_000);
    let archive = config.archive.expect("the archive is on");
    assert_eq!(archive.dir, Path::new("/media/solarcam"));
    assert_eq!(archive.keep, Duration::from_secs(7 * 86400));
    assert_eq!(archive.max_size, 500_000_000);
    let cams = config.camera_mqtt.unwrap();
    assert_eq!(cams.url.to_string(), "mqtts://cams.example.net:443");
    assert_eq!(cams.alpn, ["x-amzn-mqtt-ca"]);
    assert_eq!(cams.ca_file.as_deref(), Some(Path::new("/ssl/cams/ca.pem")));
    assert_eq!(
        cams.client_cert.as_deref(),
        Some(Path::new("/ssl/cams/client.pem"))
    );
    assert_eq!(
        cams.client_key.as_deref(),
        Some(Path::new("/ssl/cams/client.key"))
    );
}

#[test]
fn archive_off_says_off_and_every_log_level_offered_is_taken() {
    let off = serde_json::json!({"archive": false, "archive_keep_days": 3});
    let config = addon::parse(
        &off.to_string(),
        "options.json",
        &service(),
        &Shares::default(),
    )
    .unwrap();
    assert!(config.archive.is_none());
    // The log levels offered are the ones the binary takes.
    let levels = manifest()["schema"]["log_level"]
        .as_str()
        .unwrap()
        .to_string();
    let inner = levels.trim_start_matches("list(").trim_end_matches(')');
    for level in inner.split('|') {
        let text = format!("{{\"log_level\": \"{level}\"}}");
        addon::parse(&text, "options.json", &service(), &Shares::default())
            .unwrap_or_else(|e| panic!("{level}: {e}"));
    }
}

#[test]
fn the_repository_and_images() {
    let repo = yaml("repository.yaml");
    assert!(repo["name"].as_str().is_some_and(|s| !s.is_empty()));
    for (file, w, h) in [("icon.png", 128, 128), ("logo.png", 250, 100)] {
        let bytes = std::fs::read(Path::new(ROOT).join("solarcam-bridge").join(file)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{file} is not a PNG");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((width, height), (w, h), "{file}");
    }
}

//! Validation: the file as written into the typed configuration, every error with its line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults::*;
use super::locate::{locate, Seg};
use super::raw::{OneOrMany, RawArchive, RawBroker, RawCamera, RawCameraTopics, RawConfig, Scalar};
use super::{
    default_camera_name, ArchiveConfig, BrokerConfig, BrokerUrl, CameraConfig, Config, ConfigError,
    EmbeddedBroker, Level, Mqtt, Secret,
};
use crate::broker::topic::{filters_overlap, valid_filter};
use crate::mac::Mac;
use crate::protocol::{CameraTopics, TopicKind};

struct Check<'a> {
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Check<'_> {
    fn error(&mut self, path: &[Seg], message: String) {
        let line = locate(self.text, path);
        self.errors.push(ConfigError { line, message });
    }
}

pub(super) fn validate(
    raw: RawConfig,
    text: &str,
    dir: Option<&Path>,
) -> Result<Config, Vec<ConfigError>> {
    let mut c = Check {
        text,
        errors: Vec::new(),
    };
    let (mqtt, camera_mqtt) = brokers(&mut c, raw.mqtt, raw.camera_mqtt, dir);
    let camera_topic_prefix = topic_prefix(
        &mut c,
        "camera_topic_prefix",
        raw.camera_topic_prefix,
        DEFAULT_CAMERA_TOPIC_PREFIX,
    );
    let discovery_prefix = topic_prefix(
        &mut c,
        "discovery_prefix",
        raw.discovery_prefix,
        DEFAULT_DISCOVERY_PREFIX,
    );
    let base_topic = topic_prefix(&mut c, "base_topic", raw.base_topic, DEFAULT_BASE_TOPIC);
    // On one broker with Home Assistant, the camera topics must stay clear of the bridge's own.
    let own = match &camera_mqtt {
        None => vec![format!("{base_topic}/#"), format!("{discovery_prefix}/#")],
        Some(_) => Vec::new(),
    };
    let camera_topics = camera_topics(&mut c, raw.camera_topics, &camera_topic_prefix, &own);
    let mut secs = |key, value, default| duration(&mut c, &[Seg::Key(key)], value, default);
    let alarm_off_after = secs(
        "alarm_off_after",
        raw.alarm_off_after,
        DEFAULT_ALARM_OFF_AFTER,
    );
    let awake_timeout = secs("awake_timeout", raw.awake_timeout, DEFAULT_AWAKE_TIMEOUT);
    let command_timeout = secs(
        "command_timeout",
        raw.command_timeout,
        DEFAULT_COMMAND_TIMEOUT,
    );
    let alarm_snapshot_window = secs(
        "alarm_snapshot_window",
        raw.alarm_snapshot_window,
        DEFAULT_ALARM_SNAPSHOT_WINDOW,
    );
    let wake_retries = in_range(
        &mut c,
        "wake_retries",
        raw.wake_retries.map(u64::from),
        1..=20,
        DEFAULT_WAKE_RETRIES as u64,
        "",
    ) as u32;
    let discover_max = in_range(
        &mut c,
        "discover_max",
        raw.discover_max.map(u64::from),
        0..=1000,
        DEFAULT_DISCOVER_MAX as u64,
        ", and list cameras you want for sure",
    ) as usize;
    let snapshot_max_bytes = in_range(
        &mut c,
        "snapshot_max_bytes",
        raw.snapshot_max_bytes,
        1024..=MAX_MQTT_PAYLOAD,
        DEFAULT_SNAPSHOT_MAX_BYTES as u64,
        "",
    ) as usize;
    let log_level = log_level(&mut c, raw.log_level);
    let cameras = cameras(&mut c, raw.cameras);
    let archive = raw.archive.map(|a| archive(&mut c, a, dir));
    if !c.errors.is_empty() {
        // In file order, as a reader fixes them.
        c.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        return Err(c.errors);
    }
    // A broker that could not be read has recorded an error above: both are here.
    let camera_mqtt = camera_mqtt.map_or(Some(None), |b| b.map(Some));
    let (Some(mqtt), Some(camera_mqtt)) = (mqtt, camera_mqtt) else {
        return Err(c.errors);
    };
    Ok(Config {
        // With cameras on the user's own broker, a new MAC is one of theirs; on a separate (often
        // public) camera broker it may be anyone's.
        discover_unknown: raw.discover_unknown.unwrap_or(camera_mqtt.is_none()),
        mqtt,
        camera_mqtt,
        camera_topic_prefix,
        camera_topics,
        discovery_prefix,
        base_topic,
        alarm_off_after,
        awake_timeout,
        command_timeout,
        wake_retries,
        snapshot_max_bytes,
        discover_max,
        alarm_snapshot_window,
        archive,
        log_level,
        state_dir: raw.state_dir.map(|d| resolve(dir, &d)),
        cameras,
        warnings: Vec::new(),
    })
}

/// The largest MQTT payload, less room for the topic and header.
const MAX_MQTT_PAYLOAD: u64 = 256 * 1024 * 1024 - 1024;

/// `mqtt` (the embedded broker when absent, so a first run needs nothing else) and `camera_mqtt`.
fn brokers(
    c: &mut Check,
    mqtt: Option<RawBroker>,
    camera_mqtt: Option<RawBroker>,
    dir: Option<&Path>,
) -> (Option<Mqtt>, Option<Option<BrokerConfig>>) {
    let raw_mqtt = mqtt.unwrap_or(RawBroker {
        embedded: Some(true),
        ..RawBroker::default()
    });
    let mqtt = self::mqtt(c, raw_mqtt, dir);
    let camera_mqtt = camera_mqtt.map(|b| {
        if b.embedded.is_some() || b.listen.is_some() {
            c.error(
                &[Seg::Key("camera_mqtt")],
                "camera_mqtt cannot be embedded: the embedded broker is the `mqtt` one; cameras \
                 can publish to it directly (then leave camera_mqtt out)"
                    .into(),
            );
        }
        remote(c, "camera_mqtt", b, DEFAULT_CAMERA_CLIENT_ID, dir)
    });
    if let (Some(Mqtt::Remote(a)), Some(b)) = (&mqtt, camera_mqtt.as_ref().and_then(|b| b.as_ref()))
    {
        if a.url == b.url && a.client_id == b.client_id {
            c.error(
                &[Seg::Key("camera_mqtt"), Seg::Key("client_id")],
                "camera_mqtt: same broker and client_id as mqtt; the two connections would \
                 throw each other off. Remove camera_mqtt, or give it another client_id"
                    .into(),
            );
        }
    }
    (mqtt, camera_mqtt)
}

/// A number within `range`, or `default` (with an error recorded) when it is outside.
fn in_range(
    c: &mut Check,
    key: &'static str,
    value: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    advice: &str,
) -> u64 {
    match value {
        None => default,
        Some(n) if range.contains(&n) => n,
        Some(n) => {
            let (lo, hi) = (range.start(), range.end());
            c.error(
                &[Seg::Key(key)],
                format!("{key}: {n} is out of range; use {lo} to {hi} (default {default}){advice}"),
            );
            default
        }
    }
}

fn log_level(c: &mut Check, level: Option<String>) -> Option<Level> {
    let l = level?.to_ascii_lowercase();
    let found = Level::ALL.into_iter().find(|level| level.as_str() == l);
    if found.is_none() {
        c.error(
            &[Seg::Key("log_level")],
            format!("log_level {l:?} is not a level; use error, warn, info, debug or trace"),
        );
    }
    found
}

/// The cameras listed: each MAC read (whatever its spelling) and listed once.
fn cameras(c: &mut Check, raw: Vec<RawCamera>) -> Vec<CameraConfig> {
    let mut cameras = Vec::with_capacity(raw.len());
    // Each MAC's first camera, by index: its line is looked up only for a duplicate's message
    // (looking up every camera's would read the file once per camera).
    let mut seen: HashMap<Mac, usize> = HashMap::new();
    for (i, cam) in raw.into_iter().enumerate() {
        let mac_path = [Seg::Key("cameras"), Seg::Index(i), Seg::Key("mac")];
        let label = match &cam.name {
            Some(n) => format!("camera {n:?}"),
            None => format!("camera #{}", i + 1),
        };
        let mac_text = cam.mac.text();
        let mac = match (&cam.mac, mac_text.parse::<Mac>()) {
            (Scalar::Text(_), Ok(mac)) => Some(mac),
            (Scalar::Int(_), Ok(mac)) if mac_text.len() == 12 => Some(mac),
            (Scalar::Int(_) | Scalar::Float(_), _) => {
                c.error(
                    &mac_path,
                    format!("{label}: mac {mac_text:?} was read as a number; put it in quotes, e.g. mac: \"5CC5638AE24C\""),
                );
                None
            }
            (Scalar::Text(_), Err(_)) => {
                c.error(
                    &mac_path,
                    format!("{label}: mac {mac_text:?} is not a MAC address (12 hex digits, e.g. 5CC5638AE24C or 5C:C5:63:8A:E2:4C)"),
                );
                None
            }
        };
        let name = match cam.name {
            Some(n) if n.trim().is_empty() => {
                c.error(
                    &[Seg::Key("cameras"), Seg::Index(i), Seg::Key("name")],
                    format!("{label}: name is empty; give it a name or remove the key"),
                );
                continue;
            }
            Some(n) => n.trim().to_string(),
            None => match mac {
                Some(mac) => default_camera_name(mac),
                None => continue,
            },
        };
        let Some(mac) = mac else { continue };
        if let Some(&first) = seen.get(&mac) {
            let first_path = [Seg::Key("cameras"), Seg::Index(first), Seg::Key("mac")];
            let at = match locate(c.text, &first_path) {
                Some(l) => format!("line {l}"),
                None => format!("camera #{}", first + 1),
            };
            c.error(
                &mac_path,
                format!("{label}: mac {mac} is already used by the camera at {at}; each camera must be listed once"),
            );
            continue;
        }
        seen.insert(mac, i);
        let area = cam
            .area
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        let awake_timeout = cam.awake_timeout.map(|t| {
            let path = [
                Seg::Key("cameras"),
                Seg::Index(i),
                Seg::Key("awake_timeout"),
            ];
            duration(c, &path, Some(t), DEFAULT_AWAKE_TIMEOUT)
        });
        cameras.push(CameraConfig {
            mac,
            name,
            area,
            awake_timeout,
        });
    }

    cameras
}

fn archive(c: &mut Check, a: RawArchive, dir: Option<&Path>) -> ArchiveConfig {
    let keep = [Seg::Key("archive"), Seg::Key("keep")];
    ArchiveConfig {
        dir: resolve(dir, &a.dir),
        keep: duration(c, &keep, a.keep, DEFAULT_ARCHIVE_KEEP),
        max_size: match a.max_size.map(|s| parse_size(&s.text())) {
            None => DEFAULT_ARCHIVE_MAX_SIZE,
            Some(Ok(n)) if n >= 1 << 20 => n,
            Some(Ok(_)) | Some(Err(_)) => {
                c.error(
                    &[Seg::Key("archive"), Seg::Key("max_size")],
                    "archive.max_size: write a size of at least 1MB, e.g. 500MB or 2GB".to_string(),
                );
                DEFAULT_ARCHIVE_MAX_SIZE
            }
        },
    }
}

/// A positive duration under `path`, or `default` (with an error recorded) when it is not one.
fn duration(c: &mut Check, path: &[Seg], value: Option<Scalar>, default: Duration) -> Duration {
    let key = match path.last() {
        Some(Seg::Key(k)) => *k,
        _ => "duration",
    };
    match value.map(|s| parse_duration(&s.text())) {
        None => default,
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => {
            c.error(path, format!("{key} must be longer than 0s"));
            default
        }
        Some(Err(e)) => {
            c.error(path, format!("{key}: {e}"));
            default
        }
    }
}

/// `mqtt`: the embedded broker with `embedded: true`, else the broker at `url`.
fn mqtt(c: &mut Check, raw: RawBroker, dir: Option<&Path>) -> Option<Mqtt> {
    const KEY: &str = "mqtt";
    match (raw.embedded.unwrap_or(false), &raw.url, &raw.listen) {
        (true, Some(_), _) => {
            c.error(
                &[Seg::Key(KEY), Seg::Key("url")],
                format!("{KEY}: `url` and `embedded: true` exclude each other: remove `url` to run the embedded broker, or `embedded` to use the broker at `url`"),
            );
            None
        }
        (false, _, Some(_)) => {
            c.error(
                &[Seg::Key(KEY), Seg::Key("listen")],
                format!("{KEY}.listen is for the embedded broker; add `embedded: true`, or remove `listen`"),
            );
            None
        }
        (true, None, _) => embedded(c, raw, dir).map(Mqtt::Embedded),
        (false, _, None) => remote(c, KEY, raw, DEFAULT_CLIENT_ID, dir).map(Mqtt::Remote),
    }
}

/// The embedded broker: its `listen` address and the one login it takes (the bridge's own). Its
/// TLS keys (`ca_file`, `client_cert`, `client_key`) have no use and are not read.
fn embedded(c: &mut Check, raw: RawBroker, dir: Option<&Path>) -> Option<EmbeddedBroker> {
    const KEY: &str = "mqtt";
    let errors_before = c.errors.len();
    let listen = raw.listen.as_deref().unwrap_or("127.0.0.1:1883");
    let listen = match listen.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            c.error(
                &[Seg::Key(KEY), Seg::Key("listen")],
                format!("{KEY}.listen {listen:?} is not an address and port, e.g. 127.0.0.1:1883 (or 0.0.0.0:1883 to accept cameras and Home Assistant from other machines)"),
            );
            None
        }
    };
    let (password, password_file) = password(c, KEY, &raw, dir);
    if raw.username.is_some() && password.is_none() && c.errors.len() == errors_before {
        c.error(
            &[Seg::Key(KEY), Seg::Key("username")],
            format!("{KEY}: the embedded broker needs a password with the username (password_file, password or password_env); a username alone would let in anyone who guesses it"),
        );
    }
    if let Some(addr) = listen {
        if !addr.ip().is_loopback() && raw.username.is_none() && raw.allow_anonymous != Some(true) {
            c.error(
                &[Seg::Key(KEY), Seg::Key("listen")],
                format!("{KEY}.listen {addr} accepts clients from other machines, and no username and password are set: anyone on the network could publish to Home Assistant and the cameras. Set username and password_file, or `allow_anonymous: true` to allow it"),
            );
        }
    }
    let (client_id, reconnect_max) = session(c, KEY, &raw, DEFAULT_CLIENT_ID);
    if c.errors.len() > errors_before {
        return None;
    }
    Some(EmbeddedBroker {
        listen: listen?,
        username: raw.username,
        password,
        password_file,
        allow_anonymous: raw.allow_anonymous.unwrap_or(false),
        client_id,
        reconnect_max,
    })
}

/// A broker at `url` (`mqtt` or `camera_mqtt`).
fn remote(
    c: &mut Check,
    key: &'static str,
    raw: RawBroker,
    default_client_id: &str,
    dir: Option<&Path>,
) -> Option<BrokerConfig> {
    let errors_before = c.errors.len();
    let url = match raw
        .url
        .as_deref()
        .unwrap_or("mqtt://127.0.0.1:1883")
        .parse::<BrokerUrl>()
    {
        Ok(u) => Some(u),
        Err(e) => {
            c.error(&[Seg::Key(key), Seg::Key("url")], format!("{key}.{e}"));
            None
        }
    };
    let (password, password_file) = password(c, key, &raw, dir);
    if raw.allow_anonymous.is_some() {
        c.error(
            &[Seg::Key(key), Seg::Key("allow_anonymous")],
            format!("{key}.allow_anonymous is for the embedded broker; the broker at `url` decides who may connect"),
        );
    }
    if raw.client_cert.is_some() != raw.client_key.is_some() {
        c.error(
            &[
                Seg::Key(key),
                Seg::Key(if raw.client_cert.is_some() {
                    "client_cert"
                } else {
                    "client_key"
                }),
            ],
            format!("{key}: client_cert and client_key go together; set both or neither"),
        );
    }
    let (client_id, reconnect_max) = session(c, key, &raw, default_client_id);
    let alpn = alpn(c, key, raw.alpn.map(OneOrMany::into_vec), url.as_ref());
    if c.errors.len() > errors_before {
        return None;
    }
    Some(BrokerConfig {
        url: url?,
        username: raw.username,
        password,
        password_file,
        client_id,
        ca_file: raw.ca_file.map(|p| resolve(dir, &p)),
        client_cert: raw.client_cert.map(|p| resolve(dir, &p)),
        client_key: raw.client_key.map(|p| resolve(dir, &p)),
        alpn,
        reconnect_max,
    })
}

/// `alpn`: the protocol names the TLS handshake offers (AWS IoT Core on port 443 takes MQTT only
/// with `x-amzn-mqtt-ca`). For `mqtts://` alone: over WebSocket the handshake speaks HTTP.
fn alpn(
    c: &mut Check,
    key: &'static str,
    list: Option<Vec<String>>,
    url: Option<&BrokerUrl>,
) -> Vec<String> {
    let Some(list) = list else {
        return Vec::new();
    };
    let path = [Seg::Key(key), Seg::Key("alpn")];
    if url.is_some_and(|u| !u.tls || u.websocket.is_some()) {
        c.error(
            &path,
            format!(
                "{key}.alpn is for mqtts:// URLs (MQTT over TLS); remove it, or use mqtts:// \
                 (AWS IoT Core: mqtts://<endpoint>:443 with alpn: x-amzn-mqtt-ca)"
            ),
        );
    }
    for p in &list {
        if p.is_empty() || p.len() > 255 || !p.bytes().all(|b| b.is_ascii_graphic()) {
            c.error(
                &path,
                format!(
                    "{key}.alpn: {p:?} is not a protocol name (1 to 255 printable ASCII \
                     characters without spaces, e.g. x-amzn-mqtt-ca)"
                ),
            );
        }
    }
    list
}

/// The password, from exactly one of `password`, `password_file` and `password_env`, and the
/// file it came from.
fn password(
    c: &mut Check,
    key: &'static str,
    raw: &RawBroker,
    dir: Option<&Path>,
) -> (Option<Secret>, Option<PathBuf>) {
    let sources = [
        raw.password.is_some(),
        raw.password_file.is_some(),
        raw.password_env.is_some(),
    ];
    let password_file = raw.password_file.as_ref().map(|f| resolve(dir, f));
    let password = match (&raw.password, &password_file, &raw.password_env) {
        _ if sources.iter().filter(|s| **s).count() > 1 => {
            c.error(
                &[Seg::Key(key), Seg::Key("password")],
                format!("{key}: set only one of password, password_file and password_env"),
            );
            None
        }
        (Some(p), _, _) => Some(Secret::new(p.clone())),
        (_, _, Some(var)) => match std::env::var(var) {
            Ok(p) => Some(Secret::new(p)),
            Err(_) => {
                c.error(
                    &[Seg::Key(key), Seg::Key("password_env")],
                    format!("{key}.password_env: the environment variable {var:?} is not set (or not UTF-8)"),
                );
                None
            }
        },
        (_, Some(path), _) => match std::fs::read_to_string(path) {
            // A trailing newline is the editor's, not the password's.
            Ok(p) => Some(Secret::new(p.trim_end_matches(['\r', '\n']))),
            Err(e) => {
                c.error(
                    &[Seg::Key(key), Seg::Key("password_file")],
                    format!("{key}.password_file: cannot read {}: {e}", path.display()),
                );
                None
            }
        },
        (None, None, None) => None,
    };
    if password.is_some() && raw.username.is_none() {
        c.error(
            &[Seg::Key(key)],
            format!("{key}: a password is set but no username; MQTT sends a password only with a username"),
        );
    }
    (password, password_file)
}

/// The client id and the longest wait between connection attempts.
fn session(
    c: &mut Check,
    key: &'static str,
    raw: &RawBroker,
    default_client_id: &str,
) -> (String, Duration) {
    let reconnect_max = duration(
        c,
        &[Seg::Key(key), Seg::Key("reconnect_max")],
        raw.reconnect_max.clone(),
        DEFAULT_RECONNECT_MAX,
    );
    let client_id = raw
        .client_id
        .clone()
        .unwrap_or_else(|| default_client_id.to_string());
    if client_id.is_empty() || client_id.len() > 128 {
        c.error(
            &[Seg::Key(key), Seg::Key("client_id")],
            format!("{key}.client_id must hold 1 to 128 characters"),
        );
    }
    (client_id, reconnect_max)
}

/// A path from the file, relative to the file's own directory.
fn resolve(dir: Option<&Path>, p: &Path) -> PathBuf {
    match dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    }
}

fn topic_prefix(c: &mut Check, key: &'static str, value: Option<String>, default: &str) -> String {
    let Some(v) = value else {
        return default.to_string();
    };
    let problem = if v.is_empty() {
        Some("is empty")
    } else if v.contains(['+', '#']) {
        Some("holds an MQTT wildcard (+ or #)")
    } else if v.starts_with('/') || v.ends_with('/') {
        Some("starts or ends with '/'")
    } else if v.contains('\0') {
        Some("holds a NUL character")
    } else {
        None
    };
    if let Some(p) = problem {
        c.error(
            &[Seg::Key(key)],
            format!("{key} {v:?} {p}; use a plain topic such as {default:?}"),
        );
        return default.to_string();
    }
    v
}

/// The longest camera topic taken: the camera's web page takes far less.
const MAX_CAMERA_TOPIC: usize = 256;

/// `camera_topics`: each a topic (or filter) as the camera's web page sets it, the rest under the
/// prefix. No two kinds may share a topic, and none may take in the commands the bridge sends the
/// cameras or (on one broker) the bridge's own topics (`own`): a message there would be read as
/// the wrong thing.
fn camera_topics(
    c: &mut Check,
    raw: Option<RawCameraTopics>,
    prefix: &str,
    own: &[String],
) -> CameraTopics {
    let mut topics = CameraTopics::under(prefix);
    let Some(raw) = raw else {
        return topics;
    };
    let given = [
        (TopicKind::Snapshot, raw.snapshot),
        (TopicKind::Status, raw.status),
        (TopicKind::Alarm, raw.alarm),
        (TopicKind::ConfigRequest, raw.config_request),
        (TopicKind::ConfigRespond, raw.config_respond),
    ];
    let mut set = Vec::new();
    for (kind, value) in given {
        let Some(v) = value else { continue };
        let path = [Seg::Key("camera_topics"), Seg::Key(kind.key())];
        match camera_topic_problem(&v) {
            Some(p) => c.error(
                &path,
                format!(
                    "camera_topics.{} {v:?} {p}; copy the topic from the camera's web page, \
                     e.g. {:?}",
                    kind.key(),
                    CameraTopics::under(prefix).get(kind)
                ),
            ),
            None => {
                topics = topics.with(kind, v);
                set.push(kind);
            }
        }
    }
    let overlap =
        |a: &[String], b: &[String]| a.iter().any(|x| b.iter().any(|y| filters_overlap(x, y)));
    for (i, &a) in TopicKind::ALL.iter().enumerate() {
        for &b in &TopicKind::ALL[i + 1..] {
            if overlap(&topics.extended(a), &topics.extended(b)) {
                // Only a topic that was set can overlap: the defaults never do.
                let (at, other) = if set.contains(&b) { (b, a) } else { (a, b) };
                c.error(
                    &[Seg::Key("camera_topics"), Seg::Key(at.key())],
                    format!(
                        "camera_topics.{} {:?} overlaps {} {:?}: a message on both could not be \
                         told apart; give each kind its own topic",
                        at.key(),
                        topics.get(at),
                        other.key(),
                        topics.get(other)
                    ),
                );
            }
        }
    }
    let commands = [
        ("Wake", "the wake commands"),
        ("Config", "the reboot, shutdown and upgrade commands"),
        ("Status", "the status requests"),
    ];
    for &kind in &set {
        let path = [Seg::Key("camera_topics"), Seg::Key(kind.key())];
        let mine = topics.extended(kind);
        for (level, what) in commands {
            // Status reports share `<prefix>/Status/<MAC>` with requests by the vendor's design.
            if kind == TopicKind::Status && level == "Status" {
                continue;
            }
            let theirs = format!("{prefix}/{level}/+");
            if overlap(&mine, std::slice::from_ref(&theirs)) {
                c.error(
                    &path,
                    format!(
                        "camera_topics.{} {:?} takes in {what} the bridge sends ({theirs}): it \
                         would read its own commands back; use the camera's own topic for it",
                        kind.key(),
                        topics.get(kind)
                    ),
                );
            }
        }
        if let Some(theirs) = own.iter().find(|o| overlap(&mine, std::slice::from_ref(o))) {
            c.error(
                &path,
                format!(
                    "camera_topics.{} {:?} takes in the bridge's own topics ({theirs}) on the \
                     same broker; use the camera's own topic for it",
                    kind.key(),
                    topics.get(kind)
                ),
            );
        }
    }
    topics
}

/// What is wrong with a camera topic, if anything.
fn camera_topic_problem(v: &str) -> Option<&'static str> {
    if v.is_empty() {
        Some("is empty")
    } else if v.len() > MAX_CAMERA_TOPIC {
        Some("is longer than 256 bytes")
    } else if v.contains('\0') {
        Some("holds a NUL character")
    } else if v.starts_with('$') {
        Some("starts with '$', which brokers keep for their own topics")
    } else if v.split('/').any(str::is_empty) {
        Some("has an empty level ('//', or '/' at either end)")
    } else if !valid_filter(v) {
        Some("has a wildcard that is not a whole level (+ and # stand alone between slashes, # only last)")
    } else {
        None
    }
}

/// `30s`, `2m`, `1h 30m`, `500ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if (0.0..1e9).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(t)
        .map_err(|_| format!("{t:?} is not a duration; write e.g. 30s, 2m or 1h"))
}

/// `2GB`, `500MB`, `1.5GiB`, `300000` (bytes): decimal units are powers of 1000, `iB` of 1024.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{t:?} is not a size; write e.g. 500MB or 2GB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "{t:?}: unit {other:?} is not one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
            ))
        }
    };
    let bytes = number * scale;
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("{t:?} is out of range"));
    }
    Ok(bytes as u64)
}

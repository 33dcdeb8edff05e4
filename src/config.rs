//! The YAML configuration file: parsed, validated as a whole, every error with its line.
//!
//! Parsing is two steps. serde reads the file into `Raw*` structs that mirror the YAML (unknown keys
//! and wrong types are caught here, with serde's own line); then [`validate`] turns them into the
//! typed [`Config`], collecting every semantic error (a bad MAC, a duplicate, a bad URL) with the
//! line it stands on, so `check-config` can list them all at once.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::mac::Mac;

pub const DEFAULT_PATH: &str = "/etc/solarcam-bridge/config.yaml";

/// The validated configuration. Everything in it has been checked; the core trusts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The broker Home Assistant uses.
    pub mqtt: BrokerConfig,
    /// The broker the cameras publish to, when it is not the same one.
    pub camera_mqtt: Option<BrokerConfig>,
    pub camera_topic_prefix: String,
    pub discovery_prefix: String,
    pub base_topic: String,
    pub alarm_off_after: Duration,
    /// A camera counts as asleep this long after its last message.
    pub awake_timeout: Duration,
    /// How long a command for a sleeping camera waits for its status after each wake.
    pub command_timeout: Duration,
    /// How many wakes are sent before a queued command is given up.
    pub wake_retries: u32,
    pub snapshot_max_bytes: usize,
    /// Cameras not in the file become devices when they publish. Off by default when the cameras
    /// use a broker of their own (`camera_mqtt`): on a public broker anyone can publish.
    pub discover_unknown: bool,
    /// At most this many unlisted cameras are devices at once.
    pub discover_max: usize,
    /// The first snapshot this soon after an alarm becomes the "Last alarm snapshot".
    pub alarm_snapshot_window: Duration,
    /// Every snapshot kept on disk, when set.
    pub archive: Option<ArchiveConfig>,
    pub log_level: Option<String>,
    /// Where the bridge keeps what it remembers across restarts; the service's own state directory
    /// (systemd's `$STATE_DIRECTORY`) or `/var/lib/solarcam-bridge` when not set.
    pub state_dir: Option<PathBuf>,
    pub cameras: Vec<CameraConfig>,
    /// Not errors, but worth a line in the log (a password in a file others can read).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraConfig {
    pub mac: Mac,
    pub name: String,
    pub area: Option<String>,
    /// This camera's own `awake_timeout`, when it differs from the global one.
    pub awake_timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// For the embedded broker, where the bridge connects to it.
    pub url: BrokerUrl,
    /// Run the embedded broker on this address (see [`crate::broker`]) rather than connect to
    /// another one.
    pub embedded: Option<std::net::SocketAddr>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Where the password was read from, when from a file (checked for who can read it).
    pub password_file: Option<PathBuf>,
    /// The embedded broker takes clients without a login on a non-loopback `listen`.
    pub allow_anonymous: bool,
    pub client_id: String,
    /// PEM file with the CA certificates to trust for `mqtts://`; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for brokers that ask for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// The longest wait between two connection attempts (the wait doubles from 0.5 s up to it).
    pub reconnect_max: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for BrokerUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // Every message below shows the URL without its user-info: a password written there
        // must not reach a log, the terminal or Home Assistant's problem sensor.
        let shown = redact_userinfo(s);
        let had_userinfo = shown != s;
        let s = shown.as_str();
        if had_userinfo {
            return Err(format!(
                "url {s:?} holds credentials; put them in `username` and `password` instead"
            ));
        }
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            format!("url {s:?} has no scheme; write mqtt://HOST:PORT or mqtts://HOST:PORT")
        })?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" | "tls" => true,
            other => {
                return Err(format!(
                    "url {s:?}: scheme {other:?} is not supported; use mqtt:// or mqtts://"
                ))
            }
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.contains('?') {
            return Err(format!("url {s:?} has a path; write only mqtt://HOST:PORT"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("url {s:?}: unclosed '[' in IPv6 address"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("url {s:?} has no host"));
        }
        let port =
            match port {
                None => {
                    if tls {
                        8883
                    } else {
                        1883
                    }
                }
                Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                    format!("url {s:?}: port {p:?} is not a number from 1 to 65535")
                })?,
            };
        Ok(BrokerUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

/// `s` with whatever stands between `scheme://` (or the start) and the last `@` before the host
/// replaced by `***`: `wss://user:pw@host/x` → `wss://***@host/x`.
pub fn redact_userinfo(s: &str) -> String {
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, s),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => {
            let host = &authority[at + 1..];
            match scheme {
                Some(scheme) => format!("{scheme}://***@{host}{tail}"),
                None => format!("***@{host}{tail}"),
            }
        }
        None => s.to_string(),
    }
}

/// A password: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where and how much of the snapshots the archive keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveConfig {
    pub dir: PathBuf,
    /// Older snapshots are deleted.
    pub keep: Duration,
    /// The archive never grows past this many bytes: the oldest go first.
    pub max_size: u64,
}

pub const DEFAULT_ARCHIVE_MAX_SIZE: u64 = 2_000_000_000;

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

/// How many unlisted cameras become devices at most, unless the file says otherwise.
pub const DEFAULT_DISCOVER_MAX: usize = 8;

/// One problem in the file, with the line it stands on when that is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub message: String,
}

/// Every problem found in one file. Displays one `file:line: message` per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match e.line {
                Some(line) => write!(f, "{}:{}: {}", self.file, line, e.message)?,
                None => write!(f, "{}: {}", self.file, e.message)?,
            }
        }
        Ok(())
    }
}

impl Config {
    /// The largest camera payload worth reading: a JPEG of `snapshot_max_bytes` in its most
    /// verbose form (a spaced hex dump, about four bytes a byte) plus room for a header. Larger
    /// messages are refused before they are read, by the camera connection itself.
    pub fn max_camera_payload(&self) -> usize {
        self.snapshot_max_bytes
            .saturating_mul(4)
            .saturating_add(64 << 10)
    }

    /// Reads and validates the file at `path` (and any `password_file` it names).
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            file: file.clone(),
            errors: vec![ConfigError {
                line: None,
                message: format!("cannot read the configuration file: {e}"),
            }],
        })?;
        let mut config = Self::parse(&text, &file, path.parent())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let inline_password = [Some(&config.mqtt), config.camera_mqtt.as_ref()]
                .into_iter()
                .flatten()
                .any(|b| b.password.is_some())
                && text
                    .lines()
                    .any(|l| l.trim_start().starts_with("password:"));
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if inline_password && mode & 0o004 != 0 {
                config.warnings.push(format!(
                    "{file} holds a password and any user on this machine can read it; \
                     run `chmod o-r {file}` (or move the password to password_file)"
                ));
            }
        }
        let warnings = config.security_warnings();
        config.warnings.extend(warnings);
        Ok(config)
    }

    /// Secrets exposed on the way: a password sent in plaintext to another machine, password and
    /// key files any user can read. Warnings, not errors: a trusted LAN may be a choice.
    pub fn security_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let brokers = [
            ("mqtt", Some(&self.mqtt)),
            ("camera_mqtt", self.camera_mqtt.as_ref()),
        ];
        for (key, broker) in brokers {
            let Some(b) = broker else { continue };
            if b.password.is_some()
                && !b.url.tls
                && b.embedded.is_none()
                && !is_loopback(&b.url.host)
            {
                out.push(format!(
                    "{key}: the password is sent to {} without encryption (mqtt://); anyone on the \
                     way can read it. Use mqtts:// if the broker offers TLS",
                    b.url.host
                ));
            }
            #[cfg(unix)]
            for (what, path) in [
                ("password_file", &b.password_file),
                ("client_key", &b.client_key),
            ] {
                use std::os::unix::fs::PermissionsExt;
                let Some(path) = path else { continue };
                let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode());
                if mode & 0o004 != 0 {
                    out.push(format!(
                        "{key}.{what}: any user on this machine can read {}; run `chmod o-r {}`",
                        path.display(),
                        path.display()
                    ));
                }
            }
        }
        out
    }

    /// Parses `text`; `file` names it in errors, `dir` resolves relative `password_file`s.
    pub fn parse(text: &str, file: &str, dir: Option<&Path>) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            file: file.to_string(),
            errors,
        };
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_norway::from_str(text).map_err(|e| fail(vec![serde_error(&e)]))?
        };
        validate(raw, text, dir).map_err(fail)
    }

    /// One line for `check-config` and the log.
    pub fn summary(&self) -> String {
        let n = self.cameras.len();
        let cams = format!("{n} camera{}", if n == 1 { "" } else { "s" });
        let broker = match self.mqtt.embedded {
            Some(addr) => format!("embedded broker on {addr}"),
            None => format!("Home Assistant broker {}", self.mqtt.url),
        };
        let cam_broker = match &self.camera_mqtt {
            Some(b) => format!("cameras on {}", b.url),
            None => "cameras on the same broker".to_string(),
        };
        let unlisted = if self.discover_unknown {
            format!("unlisted cameras added (up to {})", self.discover_max)
        } else {
            "unlisted cameras ignored".to_string()
        };
        format!(
            "{cams}, {broker}, {cam_broker}, {unlisted}, topics {}/…, discovery under {}/",
            self.camera_topic_prefix, self.discovery_prefix
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    mqtt: Option<RawBroker>,
    camera_mqtt: Option<RawBroker>,
    camera_topic_prefix: Option<String>,
    discovery_prefix: Option<String>,
    base_topic: Option<String>,
    alarm_off_after: Option<Scalar>,
    awake_timeout: Option<Scalar>,
    command_timeout: Option<Scalar>,
    wake_retries: Option<u32>,
    snapshot_max_bytes: Option<u64>,
    discover_unknown: Option<bool>,
    discover_max: Option<u32>,
    alarm_snapshot_window: Option<Scalar>,
    archive: Option<RawArchive>,
    log_level: Option<String>,
    state_dir: Option<PathBuf>,
    #[serde(default)]
    cameras: Vec<RawCamera>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArchive {
    dir: PathBuf,
    keep: Option<Scalar>,
    max_size: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBroker {
    embedded: Option<bool>,
    listen: Option<String>,
    allow_anonymous: Option<bool>,
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    client_id: Option<String>,
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    /// The name of an environment variable holding the password.
    password_env: Option<String>,
    reconnect_max: Option<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCamera {
    mac: Scalar,
    name: Option<String>,
    area: Option<String>,
    awake_timeout: Option<Scalar>,
}

/// A YAML scalar that may have been read as a number (`alarm_off_after: 30`, or a MAC of only
/// digits) but is used as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(u64),
    Float(f64),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
        }
    }
}

fn serde_error(e: &serde_norway::Error) -> ConfigError {
    let mut message = e.to_string();
    // serde_norway appends " at line L column C"; the line moves to the front instead.
    if let Some(pos) = message.find(" at line ") {
        message.truncate(pos);
    }
    if message.contains("unknown field") {
        message.push_str(" (check the spelling; config.example.yaml lists every key)");
    }
    ConfigError {
        line: e.location().map(|l| l.line()),
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

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

fn validate(raw: RawConfig, text: &str, dir: Option<&Path>) -> Result<Config, Vec<ConfigError>> {
    let mut c = Check {
        text,
        errors: Vec::new(),
    };

    // No `mqtt:` at all: the embedded broker, so a first run needs nothing else.
    let raw_mqtt = raw.mqtt.unwrap_or(RawBroker {
        embedded: Some(true),
        ..RawBroker::default()
    });
    let mqtt = broker(&mut c, "mqtt", raw_mqtt, "solarcam-bridge", dir);
    let camera_mqtt = raw.camera_mqtt.map(|b| {
        if b.embedded.is_some() || b.listen.is_some() {
            c.error(
                &[Seg::Key("camera_mqtt")],
                "camera_mqtt cannot be embedded: the embedded broker is the `mqtt` one; cameras \
                 can publish to it directly (then leave camera_mqtt out)"
                    .into(),
            );
        }
        broker(&mut c, "camera_mqtt", b, "solarcam-bridge-cameras", dir)
    });
    if let (Some(a), Some(b)) = (&mqtt, camera_mqtt.as_ref().and_then(|b| b.as_ref())) {
        if a.url == b.url && a.client_id == b.client_id {
            c.error(
                &[Seg::Key("camera_mqtt"), Seg::Key("client_id")],
                "camera_mqtt: same broker and client_id as mqtt; the two connections would \
                 throw each other off. Remove camera_mqtt, or give it another client_id"
                    .into(),
            );
        }
    }

    let camera_topic_prefix = topic_prefix(
        &mut c,
        "camera_topic_prefix",
        raw.camera_topic_prefix,
        "4GSolarCam",
    );
    let discovery_prefix = topic_prefix(
        &mut c,
        "discovery_prefix",
        raw.discovery_prefix,
        "homeassistant",
    );
    let base_topic = topic_prefix(&mut c, "base_topic", raw.base_topic, "solarcam");

    let alarm_off_after = duration(
        &mut c,
        &[Seg::Key("alarm_off_after")],
        raw.alarm_off_after,
        30,
    );
    let awake_timeout = duration(&mut c, &[Seg::Key("awake_timeout")], raw.awake_timeout, 180);
    let command_timeout = duration(
        &mut c,
        &[Seg::Key("command_timeout")],
        raw.command_timeout,
        60,
    );
    let wake_retries = match raw.wake_retries {
        None => 3,
        Some(n @ 1..=20) => n,
        Some(n) => {
            c.error(
                &[Seg::Key("wake_retries")],
                format!("wake_retries: {n} is out of range; use 1 to 20 (default 3)"),
            );
            3
        }
    };

    let discover_max = match raw.discover_max {
        None => DEFAULT_DISCOVER_MAX,
        Some(n @ 0..=1000) => n as usize,
        Some(n) => {
            c.error(
                &[Seg::Key("discover_max")],
                format!("discover_max: {n} is out of range; use 0 to 1000 (default {DEFAULT_DISCOVER_MAX}), and list cameras you want for sure"),
            );
            DEFAULT_DISCOVER_MAX
        }
    };

    const MAX_MQTT_PAYLOAD: u64 = 256 * 1024 * 1024 - 1024;
    let snapshot_max_bytes = match raw.snapshot_max_bytes {
        None => 1_900_000,
        Some(n) if (1024..=MAX_MQTT_PAYLOAD).contains(&n) => n as usize,
        Some(n) => {
            c.error(
                &[Seg::Key("snapshot_max_bytes")],
                format!("snapshot_max_bytes: {n} is out of range; use a size from 1024 to {MAX_MQTT_PAYLOAD} bytes (default 1900000)"),
            );
            1_900_000
        }
    };

    let log_level = raw.log_level.map(|l| l.to_ascii_lowercase());
    if let Some(l) = &log_level {
        if !matches!(l.as_str(), "error" | "warn" | "info" | "debug" | "trace") {
            c.error(
                &[Seg::Key("log_level")],
                format!("log_level {l:?} is not a level; use error, warn, info, debug or trace"),
            );
        }
    }

    let mut cameras = Vec::with_capacity(raw.cameras.len());
    let mut seen: HashMap<Mac, (usize, Option<usize>)> = HashMap::new();
    for (i, cam) in raw.cameras.into_iter().enumerate() {
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
        let line = locate(text, &mac_path);
        if let Some((first, first_line)) = seen.get(&mac) {
            let at = match first_line {
                Some(l) => format!("line {l}"),
                None => format!("camera #{}", first + 1),
            };
            c.error(
                &mac_path,
                format!("{label}: mac {mac} is already used by the camera at {at}; each camera must be listed once"),
            );
            continue;
        }
        seen.insert(mac, (i, line));
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
            duration(&mut c, &path, Some(t), 180)
        });
        cameras.push(CameraConfig {
            mac,
            name,
            area,
            awake_timeout,
        });
    }

    let alarm_snapshot_window = duration(
        &mut c,
        &[Seg::Key("alarm_snapshot_window")],
        raw.alarm_snapshot_window,
        30,
    );
    let archive = raw.archive.map(|a| ArchiveConfig {
        dir: resolve(dir, &a.dir),
        keep: duration(
            &mut c,
            &[Seg::Key("archive"), Seg::Key("keep")],
            a.keep,
            14 * 24 * 3600,
        ),
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
    });
    if !c.errors.is_empty() {
        // In file order, as a reader fixes them.
        c.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        return Err(c.errors);
    }
    let discover_unknown = raw.discover_unknown.unwrap_or(camera_mqtt.is_none());
    Ok(Config {
        mqtt: mqtt.expect("no error means a broker"),
        camera_mqtt: camera_mqtt.map(|b| b.expect("no error means a broker")),
        camera_topic_prefix,
        discovery_prefix,
        base_topic,
        alarm_off_after,
        awake_timeout,
        command_timeout,
        wake_retries,
        snapshot_max_bytes,
        // With cameras on the user's own broker, a new MAC is one of theirs; on a separate (often
        // public) camera broker it may be anyone's.
        discover_unknown,
        discover_max,
        alarm_snapshot_window,
        archive,
        log_level,
        state_dir: raw.state_dir.map(|d| resolve(dir, &d)),
        cameras,
        warnings: Vec::new(),
    })
}

/// A positive duration under `path`, or `default_secs` (with an error recorded) when it is not one.
fn duration(c: &mut Check, path: &[Seg], value: Option<Scalar>, default_secs: u64) -> Duration {
    let default = Duration::from_secs(default_secs);
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

/// The name a camera gets when the file gives none, or when it was discovered.
pub fn default_camera_name(mac: Mac) -> String {
    format!("SC211 {mac}")
}

fn broker(
    c: &mut Check,
    key: &'static str,
    raw: RawBroker,
    default_client_id: &str,
    dir: Option<&Path>,
) -> Option<BrokerConfig> {
    let errors_before = c.errors.len();
    let embedded = match (raw.embedded.unwrap_or(false), &raw.url, &raw.listen) {
        (true, Some(_), _) => {
            c.error(
                &[Seg::Key(key), Seg::Key("url")],
                format!("{key}: `url` and `embedded: true` exclude each other: remove `url` to run the embedded broker, or `embedded` to use the broker at `url`"),
            );
            None
        }
        (false, _, Some(_)) => {
            c.error(
                &[Seg::Key(key), Seg::Key("listen")],
                format!("{key}.listen is for the embedded broker; add `embedded: true`, or remove `listen`"),
            );
            None
        }
        (true, None, listen) => {
            let listen = listen.as_deref().unwrap_or("127.0.0.1:1883");
            match listen.parse::<std::net::SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    c.error(
                        &[Seg::Key(key), Seg::Key("listen")],
                        format!("{key}.listen {listen:?} is not an address and port, e.g. 127.0.0.1:1883 (or 0.0.0.0:1883 to accept cameras and Home Assistant from other machines)"),
                    );
                    None
                }
            }
        }
        (false, _, None) => None,
    };
    let url = match embedded {
        // The bridge reaches its own broker on loopback when it listens on every address.
        Some(addr) => Some(BrokerUrl {
            tls: false,
            host: if addr.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                addr.ip().to_string()
            },
            port: addr.port(),
        }),
        None => match raw
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
        },
    };
    let sources = [
        raw.password.is_some(),
        raw.password_file.is_some(),
        raw.password_env.is_some(),
    ];
    let password_file = raw.password_file.as_ref().map(|f| resolve(dir, f));
    let password = match (raw.password, raw.password_file, raw.password_env) {
        _ if sources.iter().filter(|s| **s).count() > 1 => {
            c.error(
                &[Seg::Key(key), Seg::Key("password")],
                format!("{key}: set only one of password, password_file and password_env"),
            );
            None
        }
        (Some(p), _, _) => Some(Secret(p)),
        (_, _, Some(var)) => match std::env::var(&var) {
            Ok(p) => Some(Secret(p)),
            Err(_) => {
                c.error(
                    &[Seg::Key(key), Seg::Key("password_env")],
                    format!("{key}.password_env: the environment variable {var:?} is not set (or not UTF-8)"),
                );
                None
            }
        },
        (_, Some(f), _) => {
            let path = resolve(dir, &f);
            match std::fs::read_to_string(&path) {
                // A trailing newline is the editor's, not the password's.
                Ok(p) => Some(Secret(p.trim_end_matches(['\r', '\n']).to_string())),
                Err(e) => {
                    c.error(
                        &[Seg::Key(key), Seg::Key("password_file")],
                        format!("{key}.password_file: cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        }
        (None, None, None) => None,
    };
    if let Some(addr) = embedded {
        if raw.username.is_some() && password.is_none() && c.errors.len() == errors_before {
            c.error(
                &[Seg::Key(key), Seg::Key("username")],
                format!("{key}: the embedded broker needs a password with the username (password_file, password or password_env); a username alone would let in anyone who guesses it"),
            );
        }
        if !addr.ip().is_loopback() && raw.username.is_none() && raw.allow_anonymous != Some(true) {
            c.error(
                &[Seg::Key(key), Seg::Key("listen")],
                format!("{key}.listen {addr} accepts clients from other machines, and no username and password are set: anyone on the network could publish to Home Assistant and the cameras. Set username and password_file, or `allow_anonymous: true` to allow it"),
            );
        }
    } else if raw.allow_anonymous.is_some() {
        c.error(
            &[Seg::Key(key), Seg::Key("allow_anonymous")],
            format!("{key}.allow_anonymous is for the embedded broker; the broker at `url` decides who may connect"),
        );
    }
    if password.is_some() && raw.username.is_none() {
        c.error(
            &[Seg::Key(key)],
            format!("{key}: a password is set but no username; MQTT sends a password only with a username"),
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
    let reconnect_max = duration(
        c,
        &[Seg::Key(key), Seg::Key("reconnect_max")],
        raw.reconnect_max,
        60,
    );
    let client_id = raw
        .client_id
        .unwrap_or_else(|| default_client_id.to_string());
    if client_id.is_empty() || client_id.len() > 128 {
        c.error(
            &[Seg::Key(key), Seg::Key("client_id")],
            format!("{key}.client_id must hold 1 to 128 characters"),
        );
    }
    if c.errors.len() > errors_before {
        return None;
    }
    Some(BrokerConfig {
        url: url?,
        embedded,
        username: raw.username,
        password,
        password_file,
        allow_anonymous: raw.allow_anonymous.unwrap_or(false),
        client_id,
        ca_file: raw.ca_file.map(|p| resolve(dir, &p)),
        client_cert: raw.client_cert.map(|p| resolve(dir, &p)),
        client_key: raw.client_key.map(|p| resolve(dir, &p)),
        reconnect_max,
    })
}

/// `localhost` or a loopback address: traffic that never leaves this machine.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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

// ---------------------------------------------------------------------------------------------
// Finding the line of a key, for errors found after serde is done.

#[derive(Debug, Clone, Copy)]
enum Seg {
    Key(&'static str),
    Index(usize),
}

/// The 1-based line of `path` in block-style YAML, or `None` where the file is written in a way
/// this small reader does not follow (flow style, anchors); the error is then shown without one.
fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    // (line number, column, content) for each line that holds something.
    let mut lines: Vec<(usize, usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let content = l.trim_start();
            (!content.is_empty() && !content.starts_with('#') && content != "---")
                .then(|| (n + 1, l.len() - content.len(), content))
        })
        .collect();
    let mut found = None;
    for seg in path {
        let shallowest = lines.iter().map(|l| l.1).min()?;
        match seg {
            Seg::Key(k) => {
                let pos = lines
                    .iter()
                    .position(|(_, col, content)| *col == shallowest && is_key(content, k))?;
                let (n, col, _) = lines[pos];
                found = Some(n);
                let end = lines[pos + 1..]
                    .iter()
                    .position(|l| l.1 <= col)
                    .map_or(lines.len(), |e| pos + 1 + e);
                lines = lines[pos + 1..end].to_vec();
            }
            Seg::Index(i) => {
                let dashes: Vec<usize> = (0..lines.len())
                    .filter(|&p| lines[p].1 == shallowest && lines[p].2.starts_with('-'))
                    .collect();
                let pos = *dashes.get(*i)?;
                let end = dashes.get(i + 1).copied().unwrap_or(lines.len());
                let (n, col, content) = lines[pos];
                found = Some(n);
                let rest = content[1..].trim_start();
                let rest_col = col + content.len() - rest.len();
                let mut item = Vec::with_capacity(end - pos);
                if !rest.is_empty() {
                    item.push((n, rest_col, rest));
                }
                item.extend_from_slice(&lines[pos + 1..end]);
                lines = item;
            }
        }
        if lines.is_empty() {
            break;
        }
    }
    found
}

fn is_key(content: &str, key: &str) -> bool {
    let unquoted = content
        .strip_prefix('"')
        .and_then(|c| c.strip_prefix(key))
        .and_then(|c| c.strip_prefix('"'))
        .or_else(|| content.strip_prefix(key));
    unquoted.is_some_and(|r| r.trim_start().starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let text = include_str!("../config.example.yaml");
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
        assert_eq!(c.mqtt.embedded, Some("127.0.0.1:1883".parse().unwrap()));
        assert_eq!(c.mqtt.url.to_string(), "mqtt://127.0.0.1:1883");
        assert_eq!(c.mqtt.client_id, "solarcam-bridge");
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

        proptest! {
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
            .security_warnings();
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
        assert_eq!(c.mqtt.password.as_ref().unwrap().expose(), "hunter2");
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
        assert_eq!(c.mqtt.password.unwrap().expose(), "s3cret");
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
        assert!(c.mqtt.allow_anonymous);
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
        let c = parse(
            "mqtt:\n  embedded: true\n  listen: 0.0.0.0:1884\n  username: cam\n  password: pw\n",
        )
        .unwrap();
        assert_eq!(c.mqtt.embedded, Some("0.0.0.0:1884".parse().unwrap()));
        assert_eq!(c.mqtt.url.to_string(), "mqtt://127.0.0.1:1884");
        assert!(
            c.summary().contains("embedded broker on 0.0.0.0:1884"),
            "{}",
            c.summary()
        );
        // A broker of one's own, by url, is not embedded.
        assert_eq!(
            parse("mqtt:\n  url: mqtt://10.0.0.2\n")
                .unwrap()
                .mqtt
                .embedded,
            None
        );

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
}

//! The add-on's options, rendered as the bridge's configuration file and validated by
//! [`Config::parse`], errors pointed at their line in `options.json`.

use std::path::PathBuf;

use serde::Deserialize;

use super::MqttService;
use crate::config::{
    bracketed, without_position, BrokerKey, Config, ConfigError, ConfigErrors, Secret,
    SecurityWarning,
};

/// The add-on's options, as the Supervisor writes them (see the add-on's `config.yaml` schema).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub cameras: Vec<CameraOption>,
    pub discover_unknown: Option<bool>,
    pub discover_max: Option<u32>,
    /// Seconds.
    pub alarm_off_after: Option<u64>,
    /// Seconds.
    pub awake_timeout: Option<u64>,
    pub camera_mqtt_url: Option<String>,
    pub camera_mqtt_username: Option<String>,
    pub camera_mqtt_password: Option<Secret>,
    /// Files in Home Assistant's `/ssl` share (a path under it, or absolute).
    pub camera_mqtt_ca_file: Option<String>,
    pub camera_mqtt_client_cert: Option<String>,
    pub camera_mqtt_client_key: Option<String>,
    /// A protocol name for the TLS handshake (AWS IoT Core on 443: `x-amzn-mqtt-ca`).
    pub camera_mqtt_alpn: Option<String>,
    pub log_level: Option<String>,
    pub camera_topic_prefix: Option<String>,
    /// The topics set in the cameras' web page, one by one (`camera_topics` in the file).
    pub snapshot_topic: Option<String>,
    pub status_topic: Option<String>,
    pub alarm_topic: Option<String>,
    pub config_request_topic: Option<String>,
    pub config_respond_topic: Option<String>,
    pub discovery_prefix: Option<String>,
    pub base_topic: Option<String>,
    /// Seconds.
    pub alarm_snapshot_window: Option<u64>,
    pub snapshot_max_bytes: Option<u64>,
    /// Every snapshot into Home Assistant's media folder (`/media/solarcam`), for its Media browser.
    pub archive: Option<bool>,
    pub archive_keep_days: Option<u64>,
    pub archive_max_size_mb: Option<u64>,
}

/// Home Assistant's shares as the add-on sees them (its `map`); other places in tests.
#[derive(Debug, Clone)]
pub struct Shares {
    /// The media folder, where the archive goes (`/media`).
    pub media: PathBuf,
    /// Certificates (`/ssl`).
    pub ssl: PathBuf,
}

impl Default for Shares {
    fn default() -> Shares {
        Shares {
            media: PathBuf::from("/media"),
            ssl: PathBuf::from("/ssl"),
        }
    }
}

/// The archive's folder in Home Assistant's media folder.
pub const ARCHIVE_FOLDER: &str = "solarcam";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraOption {
    pub mac: String,
    pub name: Option<String>,
    pub area: Option<String>,
}

/// Builds the configuration from the options' text; `file` names it in errors.
pub fn parse(
    text: &str,
    file: &str,
    mqtt: &MqttService,
    shares: &Shares,
) -> Result<Config, ConfigErrors> {
    let fail = |line, message| ConfigErrors {
        file: file.to_string(),
        errors: vec![ConfigError { line, message }],
    };
    let options: Options = serde_json::from_str(text).map_err(|e| {
        fail(
            (e.line() > 0).then_some(e.line()),
            without_position(e.to_string()),
        )
    })?;
    let rendered = render(&options, mqtt, shares);
    let mut config = Config::parse(&rendered.text, file, None).map_err(|errors| ConfigErrors {
        file: file.to_string(),
        errors: errors
            .errors
            .into_iter()
            .map(|e| ConfigError {
                line: e
                    .line
                    .and_then(|l| rendered.origins.get(l - 1).copied())
                    .and_then(|origin| locate_json(text, origin)),
                message: e.message,
            })
            .collect(),
    })?;
    // Home Assistant's broker is the Supervisor's, on the add-ons' own network: a warning about
    // its password in plaintext would be noise nobody can act on.
    config.warnings = config
        .security_warnings()
        .into_iter()
        .filter(|w| {
            !matches!(
                w,
                SecurityWarning::Plaintext {
                    key: BrokerKey::Mqtt,
                    ..
                }
            )
        })
        .map(|w| w.to_string())
        .collect();
    Ok(config)
}

/// Which option a line of the rendered configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A line of the file's own making (a section's header, the Supervisor's broker).
    None,
    Option(&'static str),
    Camera(usize, &'static str),
}

struct Rendered {
    text: String,
    /// One per line of `text`.
    origins: Vec<Origin>,
}

impl Rendered {
    fn line(&mut self, origin: Origin, line: String) {
        self.text.push_str(&line);
        self.text.push('\n');
        self.origins.push(origin);
    }
}

/// A YAML double-quoted scalar: JSON's string syntax is a subset of it.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The options as the bridge's configuration file, one option a line.
fn render(o: &Options, mqtt: &MqttService, shares: &Shares) -> Rendered {
    let mut r = Rendered {
        text: String::new(),
        origins: Vec::new(),
    };
    render_cameras(&mut r, &o.cameras);
    render_settings(&mut r, o);
    if o.archive == Some(true) {
        render_archive(&mut r, o, shares);
    }
    if let Some(url) = given(&o.camera_mqtt_url) {
        render_camera_broker(&mut r, o, &url, shares);
    }
    render_supervisors_broker(&mut r, mqtt);
    r
}

/// An option's text, quoted; an empty field in the add-on's form is the same as an absent one.
fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().filter(|s| !s.trim().is_empty()).map(quoted)
}

fn render_cameras(r: &mut Rendered, cameras: &[CameraOption]) {
    if cameras.is_empty() {
        return r.line(Origin::Option("cameras"), "cameras: []".into());
    }
    r.line(Origin::Option("cameras"), "cameras:".into());
    for (i, c) in cameras.iter().enumerate() {
        r.line(
            Origin::Camera(i, "mac"),
            format!("  - mac: {}", quoted(&c.mac)),
        );
        for (field, value) in [("name", &c.name), ("area", &c.area)] {
            if let Some(v) = value {
                r.line(
                    Origin::Camera(i, field),
                    format!("    {field}: {}", quoted(v)),
                );
            }
        }
    }
}

/// The top-level settings: a switch, numbers (durations in seconds), words and topics.
fn render_settings(r: &mut Rendered, o: &Options) {
    if let Some(v) = o.discover_unknown {
        r.line(
            Origin::Option("discover_unknown"),
            format!("discover_unknown: {v}"),
        );
    }
    for (key, value) in [
        ("discover_max", o.discover_max.map(u64::from)),
        ("alarm_off_after", o.alarm_off_after),
        ("awake_timeout", o.awake_timeout),
        ("alarm_snapshot_window", o.alarm_snapshot_window),
        ("snapshot_max_bytes", o.snapshot_max_bytes),
    ] {
        if let Some(v) = value {
            r.line(Origin::Option(key), format!("{key}: {v}"));
        }
    }
    if let Some(v) = &o.log_level {
        r.line(
            Origin::Option("log_level"),
            format!("log_level: {}", quoted(v)),
        );
    }
    for (key, value) in [
        ("camera_topic_prefix", &o.camera_topic_prefix),
        ("discovery_prefix", &o.discovery_prefix),
        ("base_topic", &o.base_topic),
    ] {
        if let Some(v) = given(value) {
            r.line(Origin::Option(key), format!("{key}: {v}"));
        }
    }
    let topics = [
        ("snapshot", "snapshot_topic", &o.snapshot_topic),
        ("status", "status_topic", &o.status_topic),
        ("alarm", "alarm_topic", &o.alarm_topic),
        (
            "config_request",
            "config_request_topic",
            &o.config_request_topic,
        ),
        (
            "config_respond",
            "config_respond_topic",
            &o.config_respond_topic,
        ),
    ];
    let topics: Vec<_> = topics
        .into_iter()
        .filter_map(|(key, option, value)| Some((key, option, given(value)?)))
        .collect();
    if !topics.is_empty() {
        r.line(Origin::None, "camera_topics:".into());
        for (key, option, v) in topics {
            r.line(Origin::Option(option), format!("  {key}: {v}"));
        }
    }
}

/// Into Home Assistant's media folder, for its Media browser.
fn render_archive(r: &mut Rendered, o: &Options, shares: &Shares) {
    let dir = shares.media.join(ARCHIVE_FOLDER);
    r.line(Origin::Option("archive"), "archive:".into());
    r.line(
        Origin::Option("archive"),
        format!("  dir: {}", quoted(&dir.display().to_string())),
    );
    if let Some(days) = o.archive_keep_days {
        r.line(
            Origin::Option("archive_keep_days"),
            format!("  keep: {days}d"),
        );
    }
    if let Some(mb) = o.archive_max_size_mb {
        r.line(
            Origin::Option("archive_max_size_mb"),
            format!("  max_size: {mb}MB"),
        );
    }
}

fn render_camera_broker(r: &mut Rendered, o: &Options, url: &str, shares: &Shares) {
    r.line(Origin::Option("camera_mqtt_url"), "camera_mqtt:".into());
    r.line(Origin::Option("camera_mqtt_url"), format!("  url: {url}"));
    if let Some(user) = given(&o.camera_mqtt_username) {
        r.line(
            Origin::Option("camera_mqtt_username"),
            format!("  username: {user}"),
        );
    }
    if let Some(p) = o.camera_mqtt_password.as_ref().map(Secret::expose) {
        if !p.is_empty() {
            r.line(
                Origin::Option("camera_mqtt_password"),
                format!("  password: {}", quoted(p)),
            );
        }
    }
    // A certificate named by its place in the /ssl share, as Home Assistant's own options do.
    for (key, option, value) in [
        ("ca_file", "camera_mqtt_ca_file", &o.camera_mqtt_ca_file),
        (
            "client_cert",
            "camera_mqtt_client_cert",
            &o.camera_mqtt_client_cert,
        ),
        (
            "client_key",
            "camera_mqtt_client_key",
            &o.camera_mqtt_client_key,
        ),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let path = quoted(&shares.ssl.join(v).display().to_string());
            r.line(Origin::Option(option), format!("  {key}: {path}"));
        }
    }
    if let Some(alpn) = given(&o.camera_mqtt_alpn) {
        r.line(
            Origin::Option("camera_mqtt_alpn"),
            format!("  alpn: {alpn}"),
        );
    }
}

/// Home Assistant's broker, as the Supervisor described it: no option of the user's.
fn render_supervisors_broker(r: &mut Rendered, mqtt: &MqttService) {
    let scheme = if mqtt.ssl { "mqtts" } else { "mqtt" };
    let host = bracketed(&mqtt.host);
    r.line(Origin::None, "mqtt:".into());
    r.line(
        Origin::None,
        format!(
            "  url: {}",
            quoted(&format!("{scheme}://{host}:{}", mqtt.port))
        ),
    );
    if let Some(user) = &mqtt.username {
        r.line(Origin::None, format!("  username: {}", quoted(user)));
    }
    if let Some(p) = &mqtt.password {
        r.line(Origin::None, format!("  password: {}", quoted(p.expose())));
    }
}

/// The 1-based line of an option in `options.json` as the Supervisor writes it (indented, one
/// value per line); the first line that names it when the file is written otherwise.
fn locate_json(text: &str, origin: Origin) -> Option<usize> {
    let key_line = |from: usize, key: &str| {
        let quoted = format!("\"{key}\"");
        text.lines()
            .enumerate()
            .skip(from)
            .find(|(_, l)| l.contains(&quoted))
            .map(|(n, _)| n)
    };
    match origin {
        Origin::None => None,
        Origin::Option(key) => key_line(0, key).map(|n| n + 1),
        Origin::Camera(i, field) => {
            let list = key_line(0, "cameras")?;
            // Each camera starts with its own `{` line; the field is the first after it.
            let start = text
                .lines()
                .enumerate()
                .skip(list + 1)
                .filter(|(_, l)| l.trim_start().starts_with('{'))
                .nth(i)
                .map_or(list, |(n, _)| n);
            key_line(start, field).map(|n| n + 1)
        }
    }
}

#[cfg(test)]
mod tests;

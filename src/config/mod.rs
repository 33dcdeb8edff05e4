//! The YAML configuration file: parsed, validated as a whole, every error with its line.
//!
//! Parsing is two steps. serde reads the file into the `Raw*` structs of `raw.rs`, which mirror the
//! YAML (unknown keys and wrong types are caught there, with serde's own line); then `validate.rs`
//! turns them into the typed [`Config`], collecting every semantic error (a bad MAC, a duplicate,
//! a bad URL) with the line `locate.rs` finds it on, so `check-config` can list them all at once.
//! `broker.rs` holds the brokers' settings, `url.rs` reads broker URLs (and keeps credentials out
//! of messages), and `security.rs` warns of secrets exposed on the way.

mod broker;
mod locate;
mod raw;
mod security;

#[cfg(test)]
mod tests;
mod url;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::mac::Mac;
use crate::protocol::CameraTopics;

pub use crate::secret::Secret;
pub use broker::{BrokerConfig, EmbeddedBroker, Mqtt};
pub use defaults::*;
pub(crate) use locate::without_position;
pub use security::{BrokerKey, SecurityWarning};
pub(crate) use url::bracketed;
pub use url::{is_loopback, redact_userinfo, BrokerUrl};
pub use validate::{parse_duration, parse_size};

pub const DEFAULT_PATH: &str = "/etc/solarcam-bridge/config.yaml";

/// What the configuration holds where the file says nothing.
pub mod defaults {
    use std::time::Duration;

    pub const DEFAULT_CAMERA_TOPIC_PREFIX: &str = "4GSolarCam";
    pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";
    pub const DEFAULT_BASE_TOPIC: &str = "solarcam";
    pub const DEFAULT_CLIENT_ID: &str = "solarcam-bridge";
    pub const DEFAULT_CAMERA_CLIENT_ID: &str = "solarcam-bridge-cameras";
    /// The longest wait between two connection attempts.
    pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(60);
    pub const DEFAULT_ALARM_OFF_AFTER: Duration = Duration::from_secs(30);
    pub const DEFAULT_AWAKE_TIMEOUT: Duration = Duration::from_secs(180);
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_ALARM_SNAPSHOT_WINDOW: Duration = Duration::from_secs(30);
    pub const DEFAULT_WAKE_RETRIES: u32 = 3;
    /// Just under the 2 MB a stock Mosquitto is often limited to, less the topic and headers.
    pub const DEFAULT_SNAPSHOT_MAX_BYTES: usize = 1_900_000;
    /// How many unlisted cameras become devices at most.
    pub const DEFAULT_DISCOVER_MAX: usize = 8;
    pub const DEFAULT_ARCHIVE_KEEP: Duration = Duration::from_secs(14 * 24 * 3600);
    pub const DEFAULT_ARCHIVE_MAX_SIZE: u64 = 2_000_000_000;
}

/// The validated configuration. Everything in it has been checked; the core trusts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The broker Home Assistant uses: one at a URL, or the embedded one this process runs.
    pub mqtt: Mqtt,
    /// The broker the cameras publish to, when it is not the same one.
    pub camera_mqtt: Option<BrokerConfig>,
    /// Where the cameras' commands go (`<prefix>/Wake/<MAC>` and the like), and under which their
    /// topics default.
    pub camera_topic_prefix: String,
    /// Where the cameras publish each kind of message, as set in their web page.
    pub camera_topics: CameraTopics,
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
    pub log_level: Option<Level>,
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

/// How much the log shows (`log_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ];

    /// As the file and `RUST_LOG` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
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
            let mqtt_password = match &config.mqtt {
                Mqtt::Remote(b) => b.password.is_some(),
                Mqtt::Embedded(e) => e.password.is_some(),
            };
            let inline_password = (mqtt_password
                || config
                    .camera_mqtt
                    .as_ref()
                    .is_some_and(|b| b.password.is_some()))
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
        config
            .warnings
            .extend(warnings.iter().map(ToString::to_string));
        Ok(config)
    }

    /// Parses `text`; `file` names it in errors, `dir` resolves relative `password_file`s.
    pub fn parse(text: &str, file: &str, dir: Option<&Path>) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            file: file.to_string(),
            errors,
        };
        let raw: raw::RawConfig = if text.trim().is_empty() {
            raw::RawConfig::default()
        } else {
            serde_norway::from_str(text).map_err(|e| fail(vec![raw::serde_error(&e)]))?
        };
        validate::validate(raw, text, dir).map_err(fail)
    }

    /// One line for `check-config` and the log.
    pub fn summary(&self) -> String {
        let n = self.cameras.len();
        let cams = format!("{n} camera{}", if n == 1 { "" } else { "s" });
        let broker = match &self.mqtt {
            Mqtt::Embedded(e) => format!("embedded broker on {}", e.listen),
            Mqtt::Remote(b) => format!("Home Assistant broker {}", b.url),
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
        let topics = if self
            .camera_topics
            .are_defaults_under(&self.camera_topic_prefix)
        {
            format!("topics {}/…", self.camera_topic_prefix)
        } else {
            format!(
                "commands under {}/, camera topics: {}",
                self.camera_topic_prefix, self.camera_topics
            )
        };
        format!(
            "{cams}, {broker}, {cam_broker}, {unlisted}, {topics}, discovery under {}/",
            self.discovery_prefix
        )
    }
}

/// The name a camera gets when the file gives none, or when it was discovered.
pub fn default_camera_name(mac: Mac) -> String {
    format!("SC211 {mac}")
}

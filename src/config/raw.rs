//! The file as written: serde's view of the YAML, before validation.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) mqtt: Option<RawBroker>,
    pub(super) camera_mqtt: Option<RawBroker>,
    pub(super) camera_topic_prefix: Option<String>,
    pub(super) camera_topics: Option<RawCameraTopics>,
    pub(super) discovery_prefix: Option<String>,
    pub(super) base_topic: Option<String>,
    pub(super) alarm_off_after: Option<Scalar>,
    pub(super) awake_timeout: Option<Scalar>,
    pub(super) command_timeout: Option<Scalar>,
    pub(super) wake_retries: Option<u32>,
    pub(super) snapshot_max_bytes: Option<u64>,
    pub(super) discover_unknown: Option<bool>,
    pub(super) discover_max: Option<u32>,
    pub(super) alarm_snapshot_window: Option<Scalar>,
    pub(super) archive: Option<RawArchive>,
    pub(super) log_level: Option<String>,
    pub(super) state_dir: Option<PathBuf>,
    #[serde(default)]
    pub(super) cameras: Vec<RawCamera>,
}

/// `camera_topics`: each as set in the camera's web page; absent ones default under the prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCameraTopics {
    pub(super) snapshot: Option<String>,
    pub(super) status: Option<String>,
    pub(super) alarm: Option<String>,
    pub(super) config_request: Option<String>,
    pub(super) config_respond: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    pub(super) dir: PathBuf,
    pub(super) keep: Option<Scalar>,
    pub(super) max_size: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBroker {
    pub(super) embedded: Option<bool>,
    pub(super) listen: Option<String>,
    pub(super) allow_anonymous: Option<bool>,
    pub(super) url: Option<String>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) client_id: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) client_cert: Option<PathBuf>,
    pub(super) client_key: Option<PathBuf>,
    /// The name of an environment variable holding the password.
    pub(super) password_env: Option<String>,
    pub(super) reconnect_max: Option<Scalar>,
    pub(super) alpn: Option<OneOrMany>,
}

/// A list, or one item written without brackets (`alpn: x-amzn-mqtt-ca`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCamera {
    pub(super) mac: Scalar,
    pub(super) name: Option<String>,
    pub(super) area: Option<String>,
    pub(super) awake_timeout: Option<Scalar>,
}

/// A YAML scalar that may have been read as a number (`alarm_off_after: 30`, or a MAC of only
/// digits) but is used as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Text(String),
    Int(u64),
    Float(f64),
}

impl Scalar {
    pub(super) fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
        }
    }
}

pub(super) fn serde_error(e: &serde_norway::Error) -> ConfigError {
    let mut message = super::without_position(e.to_string());
    if message.contains("unknown field") {
        message.push_str(" (check the spelling; config.example.yaml and README.md list the keys)");
    }
    ConfigError {
        line: e.location().map(|l| l.line()),
        message,
    }
}

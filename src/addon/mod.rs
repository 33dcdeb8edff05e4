//! Home Assistant add-on mode: the options set in the add-on's Configuration tab and the MQTT
//! broker the Supervisor provides, turned into the same validated [`Config`] as the YAML file.
//!
//! The Supervisor writes the options to `/data/options.json` (indented, one value per line) after
//! checking them against the add-on's schema, and tells the add-on where Home Assistant's broker
//! is through its services API. The options are rendered as the bridge's own configuration and
//! validated by [`Config::parse`], so a bad option gets the message `check-config` would give,
//! pointed at its line in `options.json`.
//!
//! - `options.rs`: the options rendered as the bridge's configuration and validated.
//! - `supervisor.rs`: the Supervisor's services API, asked where the broker is.

mod options;
mod supervisor;

use std::path::Path;

use crate::config::{Config, ConfigErrors};

pub use options::{parse, CameraOption, Options, Shares, ARCHIVE_FOLDER};
pub use supervisor::{mqtt_service, MqttService, SupervisorError, DEFAULT_SUPERVISOR_URL};

/// Why add-on mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    #[error("cannot read {file}: {source}")]
    ReadOptions {
        file: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Options(ConfigErrors),
    #[error("cannot ask the Supervisor for the MQTT broker at {url}: {why}")]
    Supervisor { url: String, why: SupervisorError },
    /// Not worth trying again: the token will not change while the add-on runs.
    #[error(
        "the Supervisor at {url} refused the add-on's token (SUPERVISOR_TOKEN): HTTP {status}"
    )]
    TokenRefused { url: String, status: u16 },
}

/// Reads the options at `path` and builds the configuration around Home Assistant's broker.
pub fn load(path: &Path, mqtt: &MqttService, shares: &Shares) -> Result<Config, AddonError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AddonError::ReadOptions {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, mqtt, shares).map_err(AddonError::Options)
}

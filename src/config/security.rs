//! Secrets exposed on the way: a password sent in plaintext to another machine, password and key
//! files any user can read. Warnings, not errors: a trusted LAN may be a choice.

use std::path::PathBuf;

use super::{is_loopback, Config, Mqtt};

impl Config {
    /// Secrets exposed on the way: a password sent in plaintext to another machine, password and
    /// key files any user can read. Warnings, not errors: a trusted LAN may be a choice.
    pub fn security_warnings(&self) -> Vec<SecurityWarning> {
        let mut out = Vec::new();
        let brokers = [self.mqtt.remote(), self.camera_mqtt.as_ref()];
        for (key, b) in [BrokerKey::Mqtt, BrokerKey::CameraMqtt]
            .into_iter()
            .zip(brokers)
        {
            let Some(b) = b else { continue };
            if b.password.is_some() && !b.url.tls && !is_loopback(&b.url.host) {
                out.push(SecurityWarning::Plaintext {
                    key,
                    host: b.url.host.clone(),
                });
            }
            readable_by_all(key, "password_file", &b.password_file, &mut out);
            readable_by_all(key, "client_key", &b.client_key, &mut out);
        }
        if let Mqtt::Embedded(e) = &self.mqtt {
            readable_by_all(BrokerKey::Mqtt, "password_file", &e.password_file, &mut out);
        }
        out
    }
}

/// Warns when a secret's file can be read by any user.
fn readable_by_all(
    key: BrokerKey,
    what: &'static str,
    path: &Option<PathBuf>,
    out: &mut Vec<SecurityWarning>,
) {
    #[cfg(unix)]
    if let Some(path) = path {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode());
        if mode & 0o004 != 0 {
            out.push(SecurityWarning::ReadableByAll {
                key,
                what,
                path: path.clone(),
            });
        }
    }
}

/// Which broker section of the file a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKey {
    Mqtt,
    CameraMqtt,
}

impl std::fmt::Display for BrokerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BrokerKey::Mqtt => "mqtt",
            BrokerKey::CameraMqtt => "camera_mqtt",
        })
    }
}

/// A secret exposed on the way (see [`Config::security_warnings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityWarning {
    /// The broker's password goes to another machine without TLS.
    Plaintext { key: BrokerKey, host: String },
    /// A file holding a secret (`password_file`, `client_key`) any user may read.
    ReadableByAll {
        key: BrokerKey,
        what: &'static str,
        path: PathBuf,
    },
}

impl std::fmt::Display for SecurityWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecurityWarning::Plaintext { key, host } => write!(
                f,
                "{key}: the password is sent to {host} without encryption (mqtt://); anyone on \
                 the way can read it. Use mqtts:// if the broker offers TLS"
            ),
            SecurityWarning::ReadableByAll { key, what, path } => write!(
                f,
                "{key}.{what}: any user on this machine can read {}; run `chmod o-r {}`",
                path.display(),
                path.display()
            ),
        }
    }
}

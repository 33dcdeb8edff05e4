//! The brokers' settings: Home Assistant's ([`Mqtt`], the embedded broker or one at a URL) and
//! the cameras' when apart ([`BrokerConfig`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{BrokerUrl, Secret};

/// Home Assistant's broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mqtt {
    /// Another process's, at a URL.
    Remote(BrokerConfig),
    /// The embedded broker (see [`crate::broker`]), run by this process.
    Embedded(EmbeddedBroker),
}

impl Mqtt {
    /// The broker at a URL, unless the embedded one is configured.
    pub fn remote(&self) -> Option<&BrokerConfig> {
        match self {
            Mqtt::Remote(b) => Some(b),
            Mqtt::Embedded(_) => None,
        }
    }
}

/// The embedded broker: where it listens, and the one login it accepts (the bridge's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedBroker {
    pub listen: SocketAddr,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Where the password was read from, when from a file (checked for who can read it).
    pub password_file: Option<PathBuf>,
    /// Clients without a login are taken even on a non-loopback `listen`.
    pub allow_anonymous: bool,
    /// The bridge's client id on it.
    pub client_id: String,
    pub reconnect_max: Duration,
}

impl EmbeddedBroker {
    /// How the bridge connects to it once it listens on `bound` (with the port the system chose
    /// for port 0): on loopback when it listens on every address.
    pub fn client(&self, bound: SocketAddr) -> BrokerConfig {
        let host = if bound.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            bound.ip().to_string()
        };
        BrokerConfig {
            url: BrokerUrl::tcp(host, bound.port()),
            username: self.username.clone(),
            password: self.password.clone(),
            password_file: None,
            client_id: self.client_id.clone(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            alpn: Vec::new(),
            reconnect_max: self.reconnect_max,
        }
    }
}

/// A broker at a URL, and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    pub url: BrokerUrl,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Where the password was read from, when from a file (checked for who can read it).
    pub password_file: Option<PathBuf>,
    pub client_id: String,
    /// PEM file with the CA certificates to trust for `mqtts://`; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for brokers that ask for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Protocol names offered in the TLS handshake (ALPN): AWS IoT Core takes MQTT on port 443
    /// only with `x-amzn-mqtt-ca`. Empty: none offered.
    pub alpn: Vec<String>,
    /// The longest wait between two connection attempts (the wait doubles from 0.5 s up to it).
    pub reconnect_max: Duration,
}

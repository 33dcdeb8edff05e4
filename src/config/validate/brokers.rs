//! `mqtt` and `camera_mqtt`: the embedded broker, or a broker at a URL with its TLS, login and
//! session.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{duration, resolve, Check};
use crate::config::defaults::*;
use crate::config::locate::Seg;
use crate::config::raw::{OneOrMany, RawBroker};
use crate::config::{BrokerConfig, BrokerUrl, EmbeddedBroker, Mqtt, Secret};

/// `mqtt` (the embedded broker when absent, so a first run needs nothing else) and `camera_mqtt`.
pub(super) fn brokers(
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

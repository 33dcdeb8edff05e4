//! Broker URLs: `mqtt://` and `mqtts://` with a host and a port, and MQTT over WebSocket
//! (`ws://`, `wss://`) with the path the broker serves it on; user-info refused and never shown.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    /// MQTT over WebSocket, and the HTTP path it is served on (`/mqtt`; `/` when none is given).
    pub websocket: Option<String>,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// A plain MQTT URL (`mqtt://host:port`).
    pub fn tcp(host: String, port: u16) -> BrokerUrl {
        BrokerUrl {
            tls: false,
            websocket: None,
            host,
            port,
        }
    }
}

/// A host as it goes before `:port` in a URL: an IPv6 address in brackets.
pub(crate) fn bracketed(host: &str) -> std::borrow::Cow<'_, str> {
    if host.contains(':') {
        format!("[{host}]").into()
    } else {
        host.into()
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (&self.websocket, self.tls) {
            (None, false) => "mqtt",
            (None, true) => "mqtts",
            (Some(_), false) => "ws",
            (Some(_), true) => "wss",
        };
        let path = self.websocket.as_deref().unwrap_or("");
        write!(
            f,
            "{scheme}://{}:{}{path}",
            bracketed(&self.host),
            self.port
        )
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
        const FORMS: &str = "mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT/PATH or \
                             wss://HOST:PORT/PATH";
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("url {s:?} has no scheme; write {FORMS}"))?;
        // (TLS, WebSocket, default port)
        let (tls, websocket, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => (false, false, 1883),
            "mqtts" | "ssl" | "tls" => (true, false, 8883),
            "ws" => (false, true, 80),
            "wss" => (true, true, 443),
            other => {
                return Err(format!(
                    "url {s:?}: scheme {other:?} is not supported; write {FORMS}"
                ))
            }
        };
        if rest.contains(['?', '#']) {
            return Err(format!("url {s:?} has a query or fragment; write {FORMS}"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let path = if websocket {
            Some(if path.is_empty() { "/" } else { path }.to_string())
        } else if path.trim_end_matches('/').is_empty() {
            None
        } else {
            return Err(format!(
                "url {s:?} has a path; only ws:// and wss:// take one (write mqtt://HOST:PORT)"
            ));
        };
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
                None => default_port,
                Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                    format!("url {s:?}: port {p:?} is not a number from 1 to 65535")
                })?,
            };
        Ok(BrokerUrl {
            tls,
            websocket: path,
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

/// `localhost` or a loopback address: traffic that never leaves this machine.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

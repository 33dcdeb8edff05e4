//! Broker URLs: `mqtt://` and `mqtts://` with a host and a port; user-info refused and never shown.

use std::fmt;

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

/// `localhost` or a loopback address: traffic that never leaves this machine.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

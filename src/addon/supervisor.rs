//! The Supervisor's services API: where Home Assistant's MQTT broker is, asked with the add-on's
//! token over plain HTTP on the add-ons' network.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Deserialize;

use super::AddonError;
use crate::secret::Secret;

/// Where the Supervisor is reached from an add-on; `SUPERVISOR_URL` overrides it (tests).
pub const DEFAULT_SUPERVISOR_URL: &str = "http://supervisor";
/// The Supervisor's answer is a few hundred bytes; more is not read.
const MAX_RESPONSE: usize = 64 << 10;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Home Assistant's broker, as the Supervisor's `GET /services/mqtt` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct MqttService {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub ssl: bool,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// Why the Supervisor could not say where the broker is.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("only http:// is supported for the Supervisor")]
    NotHttpUrl,
    #[error("port {0:?} is not a number")]
    BadPort(String),
    #[error("no host")]
    NoHost,
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("its answer is larger than {MAX_RESPONSE} bytes")]
    TooLarge,
    #[error("its answer is not HTTP: {0:?}")]
    NotHttp(String),
    /// 401 or 403: the add-on's token was refused.
    #[error("HTTP {0}")]
    TokenRefused(u16),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("its answer is not the JSON expected: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error(
        "it answered {result:?}{}; is the Mosquitto broker add-on installed and started?",
        .message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default()
    )]
    NoBroker {
        result: String,
        message: Option<String>,
    },
}

/// Asks the Supervisor where Home Assistant's MQTT broker is, with the add-on's token.
pub fn mqtt_service(base_url: &str, token: &Secret) -> Result<MqttService, AddonError> {
    let url = format!("{}/services/mqtt", base_url.trim_end_matches('/'));
    ask(&url, token).map_err(|why| match why {
        SupervisorError::TokenRefused(status) => AddonError::TokenRefused { url, status },
        why => AddonError::Supervisor { url, why },
    })
}

fn ask(url: &str, token: &Secret) -> Result<MqttService, SupervisorError> {
    let (host, port, path) = split_http_url(url)?;
    let response = http_get(&host, port, &path, token)?;
    parse_service(&parse_response(&response)?)
}

#[derive(Deserialize)]
struct Answer {
    result: String,
    message: Option<String>,
    data: Option<MqttService>,
}

fn parse_service(body: &[u8]) -> Result<MqttService, SupervisorError> {
    let answer: Answer = serde_json::from_slice(body)?;
    match (answer.result.as_str(), answer.data) {
        ("ok", Some(data)) => Ok(data),
        _ => Err(SupervisorError::NoBroker {
            result: answer.result,
            message: answer.message,
        }),
    }
}

/// `http://host[:port][/path]` into its parts.
fn split_http_url(url: &str) -> Result<(String, u16, String), SupervisorError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or(SupervisorError::NotHttpUrl)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
            Ok(port) => (h, port),
            Err(_) => return Err(SupervisorError::BadPort(p.to_string())),
        },
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(SupervisorError::NoHost);
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// One HTTP/1.0 GET: enough for a local JSON API, and HTTP/1.0 rules out chunked answers.
fn http_get(host: &str, port: u16, path: &str, token: &Secret) -> Result<Vec<u8>, SupervisorError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|source| SupervisorError::Resolve {
            host: host.to_string(),
            source,
        })?;
    let mut last = SupervisorError::NoAddress(host.to_string());
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, HTTP_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(source) => last = SupervisorError::Connect { addr, source },
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\n\r\n",
        token.expose()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut response)?;
    if response.len() > MAX_RESPONSE {
        return Err(SupervisorError::TooLarge);
    }
    Ok(response)
}

/// The body of a successful answer (or of a 400 the Supervisor explains in JSON).
fn parse_response(response: &[u8]) -> Result<Vec<u8>, SupervisorError> {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| SupervisorError::NotHttp(String::new()))?;
    let head = String::from_utf8_lossy(&response[..end]);
    let status_line = head.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SupervisorError::NotHttp(status_line.to_string()))?;
    let body = response[end + 4..].to_vec();
    match status {
        200 => Ok(body),
        401 | 403 => Err(SupervisorError::TokenRefused(status)),
        // The Supervisor explains itself in a JSON body, which parse_service shows.
        400 if !body.is_empty() => Ok(body),
        _ => Err(SupervisorError::Status(status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supervisors_answer() {
        let ok = br#"{"result": "ok", "data": {"host": "core-mosquitto", "port": 1883, "ssl": false, "protocol": "3.1.1", "username": "addons", "password": "pw"}}"#;
        let s = parse_service(ok).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.ssl),
            ("core-mosquitto", 1883, false)
        );
        let missing = br#"{"result": "error", "message": "No service mqtt found"}"#;
        let e = parse_service(missing).unwrap_err().to_string();
        assert!(
            e.contains("No service mqtt found") && e.contains("Mosquitto"),
            "{e}"
        );
        assert!(parse_service(b"<html>").is_err());

        let response = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}";
        assert_eq!(parse_response(response).unwrap(), b"{}");
        let denied = b"HTTP/1.1 401 Unauthorized\r\n\r\n";
        assert!(matches!(
            parse_response(denied),
            Err(SupervisorError::TokenRefused(401))
        ));
        assert!(matches!(
            parse_response(b"garbage"),
            Err(SupervisorError::NotHttp(_))
        ));
    }

    #[test]
    fn supervisor_urls() {
        let split = |u| split_http_url(u).unwrap();
        assert_eq!(
            split("http://supervisor/services/mqtt"),
            ("supervisor".into(), 80, "/services/mqtt".into())
        );
        assert_eq!(
            split("http://127.0.0.1:8123/x"),
            ("127.0.0.1".into(), 8123, "/x".into())
        );
        assert_eq!(split("http://[::1]:99/x"), ("::1".into(), 99, "/x".into()));
        assert!(split_http_url("https://supervisor/x").is_err());
        assert!(split_http_url("http://h:port/x").is_err());
    }
}

//! Tolerant JSON reading: the vendor documents topics, not payloads, so keys are matched in any
//! case and spelling, at any depth, and numbers may come as text with units.

use serde_json::{Map, Value};

/// Why a JSON message was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("JSON, but not an object")]
    NotObject,
}

/// Reads an Alarm or Status payload: a JSON object, possibly padded with whitespace or NULs.
pub fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, MessageError> {
    let end = payload
        .iter()
        .rposition(|c| !(c.is_ascii_whitespace() || *c == 0))
        .map_or(0, |e| e + 1);
    match serde_json::from_slice::<Value>(&payload[..end]) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(MessageError::NotObject),
        Err(e) => Err(MessageError::NotJson(e.to_string())),
    }
}

/// `devMac`, `device_mac`, `MAC-Address` → `devmac`, `devicemac`, `macaddress`.
pub(super) fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(super) struct Leaf<'a> {
    /// The leaf's own key, normalised.
    pub(super) key: String,
    /// Parent and leaf keys joined, normalised (`battery.level` → `batterylevel`).
    pub(super) path: String,
    pub(super) value: &'a Value,
}

pub(super) fn flatten<'a>(value: &'a Value, parent: &str, depth: usize, out: &mut Vec<Leaf<'a>>) {
    if let Value::Object(map) = value {
        flatten_map(map, parent, depth, out);
    }
}

pub(super) fn flatten_map<'a>(
    map: &'a Map<String, Value>,
    parent: &str,
    depth: usize,
    out: &mut Vec<Leaf<'a>>,
) {
    // Deeper than this is not a status report: stop, rather than walk what a hostile payload built.
    const MAX_DEPTH: usize = 6;
    if depth >= MAX_DEPTH {
        return;
    }
    // Leaves at this level first, so the shallowest key wins.
    for (k, v) in map {
        if !v.is_object() {
            let key = norm_key(k);
            let path = format!("{parent}{key}");
            out.push(Leaf {
                key,
                path,
                value: v,
            });
        }
    }
    for (k, v) in map {
        if v.is_object() {
            flatten(v, &format!("{parent}{}", norm_key(k)), depth + 1, out);
        }
    }
}

/// A number, or a string holding one (`"85"`, `"85%"`, `"3.9V"`, `"-71 dBm"`).
pub(super) fn json_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let end = s
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+')))
                })
                .map_or(s.len(), |(i, _)| i);
            s[..end].parse::<f64>().ok()
        }
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

/// A short printable string (versions, models); numbers count too (`"version": 3`).
pub(super) fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control)).then_some(s)
}

//! Which camera a JSON payload says it is from.

use std::fmt;

use serde_json::Value;

use super::json::{flatten, Leaf};
use crate::mac::Mac;

/// A key that names a MAC holds something else: the payload claims a camera it does not name.
/// It is refused rather than given to whichever camera it would otherwise be attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMac {
    /// The key, normalised (`devMac` → `devmac`).
    pub key: String,
    /// The start of what it held, for the log (at most [`BadMac::SHOWN`] characters).
    pub shown: String,
    /// How many characters it held.
    pub chars: usize,
}

impl BadMac {
    /// How much of a bad value is shown: a stranger's megabyte is not copied into logs or states.
    pub const SHOWN: usize = 24;

    fn new(key: &str, value: &Value) -> BadMac {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        BadMac {
            key: key.to_string(),
            shown: text.chars().take(Self::SHOWN).collect(),
            chars: text.chars().count(),
        }
    }
}

impl fmt::Display for BadMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = if self.chars > Self::SHOWN { "…" } else { "" };
        write!(
            f,
            "its {} is \"{}{more}\" ({} characters), not a MAC address",
            self.key,
            self.shown.escape_debug(),
            self.chars
        )
    }
}

impl std::error::Error for BadMac {}

/// Finds the camera's MAC in a JSON payload: under a key that names a MAC or a device id, at any
/// depth (shallowest first), where the value holds a MAC. A key naming a MAC whose value is not
/// one (and no other that is) makes the payload's camera unknowable: [`BadMac`].
pub fn find_mac(value: &Value) -> Result<Option<Mac>, BadMac> {
    let mut leaves = Vec::new();
    flatten(value, "", 0, &mut leaves);
    mac_among(&leaves)
}

/// [`find_mac`] for an object already parsed, without copying it into a [`Value`].
pub fn find_mac_in(object: &serde_json::Map<String, Value>) -> Result<Option<Mac>, BadMac> {
    let mut leaves = Vec::new();
    super::json::flatten_map(object, "", 0, &mut leaves);
    mac_among(&leaves)
}

pub(super) fn mac_among(leaves: &[Leaf]) -> Result<Option<Mac>, BadMac> {
    const ID_KEYS: [&str; 9] = [
        "sn",
        "devsn",
        "devicesn",
        "deviceid",
        "devid",
        "deveui",
        "serial",
        "serialnumber",
        "id",
    ];
    let read = |leaf: &Leaf| {
        let s = leaf.value.as_str()?;
        s.parse::<Mac>().ok().or_else(|| Mac::find_in(s.as_bytes()))
    };
    let is_mac_key = |leaf: &&Leaf| leaf.key.contains("mac");
    // Keys naming a MAC outrank generic ids, which may hold a serial number.
    if let Some(mac) = leaves.iter().filter(is_mac_key).find_map(read) {
        return Ok(Some(mac));
    }
    // Empty or null is "not told"; anything else under a MAC's key is a false claim.
    let told = |leaf: &&Leaf| match leaf.value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    };
    if let Some(bad) = leaves.iter().filter(is_mac_key).find(told) {
        return Err(BadMac::new(&bad.key, bad.value));
    }
    Ok(leaves
        .iter()
        .filter(|leaf| ID_KEYS.contains(&leaf.key.as_str()))
        .find_map(read))
}

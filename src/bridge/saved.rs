//! What the bridge remembers across restarts ([`Saved`]), which the shell keeps in the state
//! directory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::MAX_DISMISSED;
use crate::mac::Mac;
use crate::protocol::CameraCommand;

/// What the bridge remembers across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// Cameras that appeared by themselves: their entities are not ghosts at the next start.
    #[serde(default)]
    pub discovered: Vec<Mac>,
    /// Commands waiting for a sleeping camera to wake.
    #[serde(default)]
    pub pending: BTreeMap<Mac, Vec<CameraCommand>>,
    /// Unlisted cameras deleted in Home Assistant or removed from the file, oldest first: their
    /// messages no longer make them devices (see [`MAX_DISMISSED`]).
    #[serde(default)]
    pub dismissed: Vec<Mac>,
    /// What cameras' snapshots call them (`devName`): their model, an unlisted camera's name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dev_names: BTreeMap<Mac, String>,
    /// This release announced every device in one message (device discovery), after moving
    /// what earlier releases announced entity by entity. Absent from their state files.
    #[serde(default)]
    pub device_discovery: bool,
}

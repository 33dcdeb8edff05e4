//! The state directory: what the bridge remembers across restarts.
//!
//! One file, `state.json`: the cameras that appeared by themselves (so that their Home Assistant
//! entities are kept, not swept away as ghosts, at the next start), the commands still waiting
//! for a sleeping camera, and the unlisted cameras dismissed (deleted in Home Assistant or
//! removed from the file, which their messages must not bring back). It is written atomically (a temporary file, synced, renamed over the old
//! one): a power cut leaves the old version or the new one, never half of one.

use std::path::PathBuf;

use crate::bridge::Saved;

/// Why the state could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({source}); starting without it")]
    Damaged {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) struct StateDir {
    dir: PathBuf,
}

const FILE: &str = "state.json";

impl StateDir {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    /// What [`StateDir::save`] wrote last; nothing if there is no file yet. A damaged file is
    /// reported, and treated as empty.
    pub(crate) fn load(&self) -> Result<Saved, StateError> {
        let path = self.dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| StateError::Damaged { path, source })
    }

    pub(crate) fn save(&self, saved: &Saved) -> Result<(), StateError> {
        // Plain data (strings and lists): serialising it cannot fail.
        let json = serde_json::to_vec_pretty(saved).unwrap_or_default();
        self.write_atomically(FILE, &json)
    }

    fn write_atomically(&self, name: &str, contents: &[u8]) -> Result<(), StateError> {
        let path = self.dir.join(name);
        super::atomic::write(&path, contents).map_err(|source| StateError::Write { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CameraCommand;

    #[test]
    fn state_round_trips_and_a_damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("sub"));
        assert_eq!(state.load().unwrap(), Saved::default());
        let mut saved = Saved {
            discovered: vec![
                "5CC5638AE24C".parse().unwrap(),
                "001122334455".parse().unwrap(),
            ],
            ..Saved::default()
        };
        saved.pending.insert(
            "001122334455".parse().unwrap(),
            vec![CameraCommand::Reboot, CameraCommand::Status],
        );
        state.save(&saved).unwrap();
        assert_eq!(state.load().unwrap(), saved);
        let text = std::fs::read_to_string(dir.path().join("sub/state.json")).unwrap();
        assert!(
            text.contains("\"001122334455\": [\n      \"reboot\",\n      \"status\""),
            "{text}"
        );
        assert!(!dir.path().join("sub/.state.json.tmp").exists());
        std::fs::write(
            dir.path().join("sub/state.json"),
            "{\"discovered\": [\"5CC5",
        )
        .unwrap();
        let e = state.load().unwrap_err();
        assert!(matches!(e, StateError::Damaged { .. }));
        assert!(e.to_string().ends_with("; starting without it"), "{e}");
    }
}

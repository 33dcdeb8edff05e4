//! The state directory: what the bridge remembers across restarts.
//!
//! One file, `state.json`: the cameras that appeared by themselves (so that their Home Assistant
//! entities are kept, not swept away as ghosts, at the next start), the commands still waiting
//! for a sleeping camera, and the unlisted cameras dismissed (deleted in Home Assistant or
//! removed from the file, which their messages must not bring back). It is written atomically (a temporary file, synced, renamed over the old
//! one): a power cut leaves the old version or the new one, never half of one.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use tracing::warn;

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

/// The state file's own thread: the main loop hands it the newest state and goes on, never
/// waiting for a disk (two fsyncs a save). One place holds what waits: a state superseded before
/// it was written is skipped, since only the newest matters. Finishing (or dropping) it writes
/// what waits, then returns.
pub(crate) struct StateWriter {
    slot: Arc<(Mutex<Slot>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Slot {
    next: Option<Saved>,
    closed: bool,
}

impl StateWriter {
    pub(crate) fn start(dir: StateDir) -> StateWriter {
        let slot: Arc<(Mutex<Slot>, Condvar)> = Arc::default();
        let shared = slot.clone();
        let thread = std::thread::Builder::new()
            .name("state".into())
            .spawn(move || {
                while let Some(saved) = next_to_write(&shared) {
                    if let Err(e) = dir.save(&saved) {
                        warn!("{e}; queued commands and discovered cameras will not survive a restart");
                    }
                }
            })
            .map_err(|e| warn!("no thread for the state file ({e}); it is not saved"))
            .ok();
        StateWriter { slot, thread }
    }

    /// Hands `saved` over, in place of any older state still waiting.
    pub(crate) fn save(&self, saved: Saved) {
        let (lock, wake) = &*self.slot;
        lock.lock().unwrap_or_else(|e| e.into_inner()).next = Some(saved);
        wake.notify_one();
    }

    /// Waits until what was handed over is written (at a stop).
    pub(crate) fn finish(&mut self) {
        let (lock, wake) = &*self.slot;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The next state to write; `None` once the writer is finished and nothing waits.
fn next_to_write(slot: &(Mutex<Slot>, Condvar)) -> Option<Saved> {
    let (lock, wake) = slot;
    let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(saved) = s.next.take() {
            return Some(saved);
        }
        if s.closed {
            return None;
        }
        s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::CameraCommand;

    #[test]
    fn the_writer_writes_the_newest_state_and_all_of_it_before_it_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = StateWriter::start(StateDir::new(dir.path()));
        let mac = |i: u64| format!("{:012X}", 0x0011_0000_0000u64 + i).parse().unwrap();
        for i in 0..200 {
            writer.save(Saved {
                discovered: (0..=i).map(mac).collect(),
                ..Saved::default()
            });
        }
        writer.finish();
        let last = StateDir::new(dir.path()).load().unwrap();
        assert_eq!(last.discovered.len(), 200);
        assert_eq!(last.discovered.last(), Some(&mac(199)));
    }

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

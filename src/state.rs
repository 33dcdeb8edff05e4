//! The state directory: what the bridge remembers across restarts.
//!
//! Today that is the list of cameras that appeared by themselves (not in the file), so that their
//! Home Assistant entities are kept, not swept away as ghosts, at the next start. Files are written
//! atomically (a temporary file, synced, renamed over the old one): a power cut leaves the old
//! version or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::mac::Mac;

pub struct StateDir {
    dir: PathBuf,
}

const DISCOVERED: &str = "discovered.json";

impl StateDir {
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The cameras saved by [`StateDir::save_discovered`]; none if there is no file yet. A damaged
    /// file is reported, and treated as empty.
    pub fn load_discovered(&self) -> Result<Vec<Mac>, String> {
        let path = self.dir.join(DISCOVERED);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let macs: Vec<String> = serde_json::from_str(&text)
            .map_err(|e| format!("{} is damaged ({e}); starting without it", path.display()))?;
        Ok(macs.iter().filter_map(|m| m.parse().ok()).collect())
    }

    pub fn save_discovered(&self, macs: &[Mac]) -> Result<(), String> {
        let list: Vec<String> = macs.iter().map(Mac::to_string).collect();
        let json = serde_json::to_vec_pretty(&list).map_err(|e| e.to_string())?;
        self.write_atomically(DISCOVERED, &json)
    }

    fn write_atomically(&self, name: &str, contents: &[u8]) -> Result<(), String> {
        let target = self.dir.join(name);
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", target.display());
        std::fs::create_dir_all(&self.dir).map_err(fail)?;
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(fail)?;
        f.write_all(contents).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &target).map_err(fail)?;
        // The rename is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_cameras_round_trip_and_a_damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("sub"));
        assert_eq!(state.load_discovered().unwrap(), vec![]);
        let macs: Vec<Mac> = vec![
            "5CC5638AE24C".parse().unwrap(),
            "001122334455".parse().unwrap(),
        ];
        state.save_discovered(&macs).unwrap();
        assert_eq!(state.load_discovered().unwrap(), macs);
        std::fs::write(dir.path().join("sub/discovered.json"), "[\"5CC5").unwrap();
        assert!(state.load_discovered().unwrap_err().contains("damaged"));
    }
}

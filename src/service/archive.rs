//! The snapshot archive: every snapshot kept as a file, as long and as much as configured.
//!
//! Layout: `<dir>/<camera>/<YYYY-MM-DD>/<HHMMSS>[_alarm].jpg`, in local time: the system's time
//! zone, or the one `TZ` names (`TZ=Europe/Berlin`, as Docker and the Home Assistant Supervisor
//! set it; the container image ships the zone data). A second snapshot of the same camera at the
//! same local second, within a second or in the hour a daylight-saving change repeats, gets `-2`,
//! `-3`… after the time: nothing is overwritten, and the skipped hour simply has no files. `_alarm` marks the first
//! snapshot after an alarm. Pointed at Home Assistant's media folder, the files show in its Media
//! browser.
//!
//! - **Atomic**: a snapshot is written to a hidden temporary file in its folder, flushed to disk,
//!   then renamed into place, so a reader (or a power cut) never meets half a picture.
//! - **Bounded**: before a file is written, the oldest are deleted until it fits in `max_size`;
//!   files older than `keep` go too. The folder is read once, at start, into an index
//!   ([`Retention`]); after that nothing is rescanned.
//! - **Never in the way**: the files are written by a thread of their own; a full or read-only
//!   disk, or a writer too far behind, costs that snapshot only, reported back to the core
//!   (counted on the bridge's *Snapshots not archived* sensor) while everything else goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tracing::{debug, info, warn};

use super::localtime::{date_and_time, time_of};
use crate::bridge::ArchiveRequest;
use crate::config::ArchiveConfig;

/// Which files to delete to keep the archive within its age and size: a pure index, oldest first.
#[derive(Debug, Clone)]
struct Retention {
    files: BTreeMap<(SystemTime, PathBuf), u64>,
    total: u64,
    keep: Duration,
    max_size: u64,
}

impl Retention {
    pub(crate) fn new(keep: Duration, max_size: u64) -> Retention {
        Retention {
            files: BTreeMap::new(),
            total: 0,
            keep,
            max_size,
        }
    }

    pub(crate) fn insert(&mut self, time: SystemTime, path: PathBuf, size: u64) {
        if let Some(old) = self.files.insert((time, path), size) {
            self.total -= old;
        }
        self.total += size;
    }

    /// The files to delete so that one of `size` bytes fits, oldest first; taken off the index.
    fn make_room(&mut self, size: u64) -> Vec<PathBuf> {
        let mut out = Vec::new();
        while self.total + size > self.max_size {
            let Some(((_, path), s)) = self.files.pop_first() else {
                break;
            };
            self.total -= s;
            out.push(path);
        }
        out
    }

    /// The files older than `keep` at `now`; taken off the index.
    fn expire(&mut self, now: SystemTime) -> Vec<PathBuf> {
        let Some(cutoff) = now.checked_sub(self.keep) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(entry) = self.files.first_entry() {
            if entry.key().0 >= cutoff {
                break;
            }
            let ((_, path), s) = entry.remove_entry();
            self.total -= s;
            out.push(path);
        }
        out
    }

    fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    /// The files kept, oldest first.
    #[cfg(test)]
    pub(crate) fn files(&self) -> impl Iterator<Item = (SystemTime, &Path, u64)> {
        self.files.iter().map(|((t, p), s)| (*t, p.as_path(), *s))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ArchiveError {
    #[error("archive: {camera}'s snapshot of {size} bytes is larger than archive.max_size ({max} bytes); not archived")]
    TooLarge { camera: String, size: u64, max: u64 },
    #[error("archive: cannot write {path}: {source}; the snapshot is not archived (is the disk full or read-only? Under systemd, the folder must be writable by the service: see README, Archive)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("archive: the disk is not keeping up ({WRITE_QUEUE} snapshots waiting); a snapshot of {camera} is not archived")]
    Behind { camera: String },
}

/// The archive on disk.
pub(crate) struct Archive {
    dir: PathBuf,
    index: Retention,
}

impl Archive {
    /// Reads what `config.dir` holds already (once) and applies retention to it.
    pub(crate) fn open(config: &ArchiveConfig) -> Archive {
        let mut index = Retention::new(config.keep, config.max_size);
        for (time, path, size) in scan(&config.dir) {
            index.insert(time, path, size);
        }
        let mut archive = Archive {
            dir: config.dir.clone(),
            index,
        };
        info!(
            "archive: {} snapshot(s), {} bytes, in {}",
            archive.index.len(),
            archive.index.total(),
            archive.dir.display()
        );
        let stale = archive.index.expire(SystemTime::now());
        let over = archive.index.make_room(0);
        archive.delete(stale.into_iter().chain(over));
        archive
    }

    /// Writes one snapshot, deleting what retention asks for first. Returns its path.
    pub(crate) fn store(&mut self, snap: &ArchiveRequest) -> Result<PathBuf, ArchiveError> {
        let size = snap.jpeg.len() as u64;
        if size > self.index.max_size {
            return Err(ArchiveError::TooLarge {
                camera: snap.camera.clone(),
                size,
                max: self.index.max_size,
            });
        }
        let stale = self.index.expire(snap.taken);
        let over = self.index.make_room(size);
        self.delete(stale.into_iter().chain(over));

        let (date, time) = date_and_time(snap.taken);
        let folder = self.dir.join(&snap.camera).join(date);
        let suffix = if snap.alarm { "_alarm" } else { "" };
        let path = (1..)
            .map(|n| {
                let seq = if n == 1 {
                    String::new()
                } else {
                    format!("-{n}")
                };
                folder.join(format!("{time}{seq}{suffix}.jpg"))
            })
            .find(|p| !p.exists())
            .expect("an unused name");
        super::atomic::write(&path, &snap.jpeg).map_err(|source| ArchiveError::Write {
            path: path.clone(),
            source,
        })?;
        self.index.insert(snap.taken, path.clone(), size);
        debug!("archive: {} ({size} bytes)", path.display());
        Ok(path)
    }

    /// Applies the age limit when no snapshot came for a while.
    fn expire(&mut self, now: SystemTime) {
        let stale = self.index.expire(now);
        self.delete(stale.into_iter());
    }

    #[cfg(test)]
    fn retention(&self) -> &Retention {
        &self.index
    }

    fn delete(&self, paths: impl Iterator<Item = PathBuf>) {
        for path in paths {
            match std::fs::remove_file(&path) {
                Ok(()) => debug!("archive: deleted {}", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => warn!("archive: cannot delete {}: {e}", path.display()),
            }
            // The day's folder goes with its last file (a folder with files stays).
            if let Some(day) = path.parent() {
                let _ = std::fs::remove_dir(day);
            }
        }
    }
}

/// Every `<camera>/<date>/<file>.jpg` under `dir`, with its time (from its name, else its
/// modification time) and size. Leftover temporary files are removed.
fn scan(dir: &Path) -> Vec<(SystemTime, PathBuf, u64)> {
    let mut out = Vec::new();
    let entries = |p: &Path| std::fs::read_dir(p).into_iter().flatten().flatten();
    for camera in entries(dir).filter(|e| e.path().is_dir()) {
        for day in entries(&camera.path()).filter(|e| e.path().is_dir()) {
            for file in entries(&day.path()) {
                let path = file.path();
                let name = file.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                if !name.ends_with(".jpg") {
                    continue;
                }
                let Ok(meta) = file.metadata() else { continue };
                let day_name = day.file_name().to_string_lossy().into_owned();
                let time = time_of(&day_name, &name)
                    .or_else(|| meta.modified().ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                out.push((time, path, meta.len()));
            }
        }
    }
    out
}

/// The archive's thread: writes what the main loop hands it, reports what it could not write.
pub(crate) struct ArchiveWriter {
    tx: std::sync::mpsc::SyncSender<ArchiveRequest>,
}

/// Snapshots waiting for the disk; past this the writer is behind and new ones are not archived.
const WRITE_QUEUE: usize = 16;

/// With no snapshot coming, the age limit is applied this often.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

impl ArchiveWriter {
    /// Opens the archive on a thread of its own; failures go to `failed`.
    pub(crate) fn start(
        config: ArchiveConfig,
        failed: tokio::sync::mpsc::Sender<ArchiveError>,
    ) -> ArchiveWriter {
        Self::start_with(config, failed, SWEEP_EVERY, SystemTime::now)
    }

    /// [`ArchiveWriter::start`] with the sweep's period and clock given (tests).
    fn start_with(
        config: ArchiveConfig,
        failed: tokio::sync::mpsc::Sender<ArchiveError>,
        sweep_every: Duration,
        now: fn() -> SystemTime,
    ) -> ArchiveWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ArchiveRequest>(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("archive".into())
            .spawn(move || {
                let mut archive = Archive::open(&config);
                loop {
                    match rx.recv_timeout(sweep_every) {
                        Ok(snap) => {
                            if let Err(e) = archive.store(&snap) {
                                let _ = failed.try_send(e);
                            }
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => archive.expire(now()),
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("a thread for the archive");
        ArchiveWriter { tx }
    }

    /// Hands a snapshot to the writer; an error when it is too far behind to take it.
    pub(crate) fn store(&self, snap: ArchiveRequest) -> Result<(), ArchiveError> {
        let camera = snap.camera.clone();
        self.tx
            .try_send(snap)
            .map_err(|_| ArchiveError::Behind { camera })
    }
}

#[cfg(test)]
mod tests;

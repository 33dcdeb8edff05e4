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
        let stale = self.index.expire(snap.received);
        let over = self.index.make_room(size);
        self.delete(stale.into_iter().chain(over));

        let (date, time) = date_and_time(snap.received);
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
        self.index.insert(snap.received, path.clone(), size);
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

/// The local date and time of `t`: `("2026-11-27", "224005")` for 2026-11-27T21:40:05Z in
/// Berlin. UTC when the local time cannot be had.
fn date_and_time(t: SystemTime) -> (String, String) {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Some(tm) = local_time(secs as libc::time_t) {
        return (
            format!(
                "{:04}-{:02}-{:02}",
                tm.tm_year + 1900,
                tm.tm_mon + 1,
                tm.tm_mday
            ),
            format!("{:02}{:02}{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec),
        );
    }
    let s = humantime::format_rfc3339_seconds(t).to_string();
    let date = s.get(..10).unwrap_or("1970-01-01").to_string();
    let time: String = s
        .get(11..19)
        .unwrap_or("000000")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (date, time)
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

/// The time a file's folder and name give, read as local time (`2026-11-27`, `214005_alarm.jpg`).
/// In an hour a daylight-saving change repeats, either of the two: it only orders retention.
fn time_of(day: &str, name: &str) -> Option<SystemTime> {
    let number = |s: Option<&str>| s?.parse::<libc::c_int>().ok();
    // SAFETY: `tm` is plain data; zeroed is a valid value of it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = number(day.get(..4))? - 1900;
    tm.tm_mon = number(day.get(5..7))? - 1;
    tm.tm_mday = number(day.get(8..10))?;
    tm.tm_hour = number(name.get(..2))?;
    tm.tm_min = number(name.get(2..4))?;
    tm.tm_sec = number(name.get(4..6))?;
    tm.tm_isdst = -1;
    local_zone();
    // SAFETY: mktime reads and normalises `tm`, a valid, exclusively borrowed value.
    let secs = unsafe { libc::mktime(&mut tm) };
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Reads the time zone (`TZ`, else `/etc/localtime`) once, for `localtime_r` and `mktime`.
fn local_zone() {
    static READ: std::sync::Once = std::sync::Once::new();
    // SAFETY: tzset only sets the C library's time zone state; Once runs it before any reader.
    READ.call_once(|| unsafe { tzset() });
}

extern "C" {
    // POSIX; the libc crate does not declare it for every target.
    fn tzset();
}

/// `secs` in the local time zone.
fn local_time(secs: libc::time_t) -> Option<libc::tm> {
    local_zone();
    // SAFETY: `tm` is plain data; localtime_r fills it, or returns null and it is not used.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let filled = unsafe { libc::localtime_r(&secs, &mut tm) };
    (!filled.is_null()).then_some(tm)
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
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000 + secs)
    }

    proptest! {
        /// Against a plain list: whatever the sizes and however the clock moves, the index holds
        /// exactly the newest files that fit in max_size and are younger than keep.
        #[test]
        fn retention_keeps_the_newest_that_fit_and_are_young_enough(
            steps in proptest::collection::vec((1u64..400, 0u64..(3 * 24 * 3600)), 1..200),
            max_size in 200u64..2000,
            keep_days in 1u64..4,
        ) {
            let keep = DAY * keep_days as u32;
            let mut r = Retention::new(keep, max_size);
            let mut model: Vec<(SystemTime, u64)> = Vec::new();
            let mut now = at(0);
            for (i, (size, step)) in steps.into_iter().enumerate() {
                now += Duration::from_secs(step);
                let size = size.min(max_size);
                r.expire(now);
                r.make_room(size);
                r.insert(now, PathBuf::from(format!("f{i}")), size);

                model.retain(|(t, _)| *t >= now - keep);
                model.push((now, size));
                let mut total: u64 = model.iter().map(|(_, s)| s).sum();
                while total > max_size {
                    total -= model.remove(0).1;
                }
                prop_assert!(r.total() <= max_size);
                prop_assert_eq!(r.total(), total);
                prop_assert_eq!(r.len(), model.len());
                prop_assert!(r.files().all(|(t, _, _)| t >= now - keep));
            }
        }
    }

    fn snapshot(camera: &str, secs: u64, alarm: bool, len: usize) -> ArchiveRequest {
        ArchiveRequest {
            camera: camera.into(),
            jpeg: Bytes::from(vec![(secs % 251) as u8; len]),
            received: at(secs),
            alarm,
        }
    }

    fn config(dir: &Path, max_size: u64) -> ArchiveConfig {
        ArchiveConfig {
            dir: dir.to_path_buf(),
            keep: Duration::from_secs(3600 * 24 * 1000 * 365),
            max_size,
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = walk(dir)
            .into_iter()
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect();
        out.sort();
        out
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }

    #[test]
    fn snapshots_are_filed_by_camera_day_and_time_with_the_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Archive::open(&config(dir.path(), 1 << 20));
        let (date, time) = date_and_time(at(0));
        let first = snapshot("driveway", 0, true, 100);
        let p = a.store(&first).unwrap();
        assert_eq!(
            p,
            dir.path().join(format!("driveway/{date}/{time}_alarm.jpg"))
        );
        assert_eq!(std::fs::read(&p).unwrap(), first.jpeg.as_ref());
        // The same second again, and another camera.
        a.store(&snapshot("driveway", 0, false, 10)).unwrap();
        a.store(&snapshot("driveway", 0, false, 10)).unwrap();
        a.store(&snapshot("barn", 1, false, 10)).unwrap();
        let (_, time1) = date_and_time(at(1));
        assert_eq!(
            listing(dir.path()),
            vec![
                format!("barn/{date}/{time1}.jpg"),
                format!("driveway/{date}/{time}-2.jpg"),
                format!("driveway/{date}/{time}.jpg"),
                format!("driveway/{date}/{time}_alarm.jpg"),
            ]
        );
    }

    #[test]
    fn the_archive_never_grows_past_max_size_and_old_days_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Archive::open(&config(dir.path(), 1000));
        for i in 0..10 {
            a.store(&snapshot("cam", i * DAY.as_secs(), false, 300))
                .unwrap();
            let on_disk: u64 = walk(dir.path())
                .iter()
                .map(|p| std::fs::metadata(p).unwrap().len())
                .sum();
            assert!(on_disk <= 1000, "{on_disk} bytes on disk");
        }
        // The three newest, one per day folder; the emptied day folders are gone.
        assert_eq!(walk(dir.path()).len(), 3);
        assert_eq!(
            std::fs::read_dir(dir.path().join("cam")).unwrap().count(),
            3
        );
        assert!(a
            .store(&snapshot("cam", 11 * DAY.as_secs(), false, 1001))
            .is_err());
    }

    #[test]
    fn what_is_on_disk_at_start_is_indexed_and_trimmed_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut a = Archive::open(&config(dir.path(), 10_000));
            for i in 0..5 {
                a.store(&snapshot("cam", i * 60, false, 1000)).unwrap();
            }
        }
        // A leftover temporary file of an interrupted write is cleared.
        let (date, _) = date_and_time(at(0));
        std::fs::write(
            dir.path().join(format!("cam/{date}/.120000.jpg.tmp")),
            "half",
        )
        .unwrap();
        let a = Archive::open(&config(dir.path(), 2500));
        assert_eq!(a.retention().len(), 2);
        assert_eq!(walk(dir.path()).len(), 2);
        let names = listing(dir.path());
        let (_, t3) = date_and_time(at(180));
        let (_, t4) = date_and_time(at(240));
        assert_eq!(
            names,
            vec![
                format!("cam/{date}/{t3}.jpg"),
                format!("cam/{date}/{t4}.jpg")
            ]
        );
    }

    #[test]
    fn a_write_that_fails_leaves_no_partial_file_and_the_next_one_works() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Archive::open(&config(dir.path(), 1 << 20));
        // The camera's folder cannot be created: a file stands in its place (root ignores
        // permissions, so this is how a test makes a write fail).
        std::fs::write(dir.path().join("cam"), "in the way").unwrap();
        let e = a.store(&snapshot("cam", 0, false, 100)).unwrap_err();
        assert!(e.to_string().contains("cannot write"), "{e}");
        assert!(
            e.to_string()
                .contains(&dir.path().join("cam").display().to_string()),
            "{e}"
        );
        assert_eq!(listing(dir.path()), vec!["cam".to_string()]);
        assert_eq!(a.retention().total(), 0);
        std::fs::remove_file(dir.path().join("cam")).unwrap();

        // A write that fails once its hidden file exists removes it: `atomic.rs` tests that
        // (here the archive picks another name for a snapshot whose path is taken).

        a.store(&snapshot("cam", 1, false, 100)).unwrap();
        assert_eq!(walk(dir.path()).len(), 1);
    }

    /// Stores a snapshot at each `utc` time (unix seconds), each with bytes of its own; returns
    /// what is on disk, name and bytes, under the camera's folder.
    fn store_at(dir: &Path, utc: &[u64]) -> Vec<(String, Vec<u8>)> {
        let mut a = Archive::open(&config(dir, 1 << 20));
        for (i, t) in utc.iter().enumerate() {
            a.store(&ArchiveRequest {
                camera: "cam".into(),
                jpeg: Bytes::from(format!("snapshot {i}")),
                received: SystemTime::UNIX_EPOCH + Duration::from_secs(*t),
                alarm: false,
            })
            .unwrap();
        }
        let mut files: Vec<(String, Vec<u8>)> = walk(dir)
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(dir.join("cam")).unwrap();
                (name.display().to_string(), std::fs::read(&p).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn names_are_in_local_time_and_a_daylight_saving_change_loses_and_overwrites_nothing() {
        // The time zone is the process's: the check runs in a child of this test binary, in
        // Berlin, so no other test sees it.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "service::archive::tests::in_berlin_across_daylight_saving_changes",
                "--ignored",
                "--nocapture",
            ])
            .env("TZ", "Europe/Berlin")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    #[ignore = "run by names_are_in_local_time_..., with TZ=Europe/Berlin"]
    fn in_berlin_across_daylight_saving_changes() {
        assert_eq!(std::env::var("TZ").as_deref(), Ok("Europe/Berlin"));
        assert!(
            Path::new("/usr/share/zoneinfo/Europe/Berlin").exists(),
            "the zone data is needed: apt-get install tzdata"
        );
        const H: u64 = 3600;
        // 2026-11-27T23:30:00Z is 00:30 on the 28th in Berlin: the day is the local one.
        let dir = tempfile::tempdir().unwrap();
        let files = store_at(dir.path(), &[1_795_822_200]);
        assert_eq!(files[0].0, "2026-11-28/003000.jpg");

        // Autumn: 2026-10-25T01:00:00Z, 03:00 CEST becomes 02:00 CET; 02:00 to 03:00 comes twice.
        // Every 30 minutes from 00:00Z to 02:00Z.
        let change = 1_792_890_000;
        let dir = tempfile::tempdir().unwrap();
        let times: Vec<u64> = (0..5).map(|i| change - H + i * H / 2).collect();
        let files = store_at(dir.path(), &times);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "2026-10-25/020000-2.jpg",
                "2026-10-25/020000.jpg",
                "2026-10-25/023000-2.jpg",
                "2026-10-25/023000.jpg",
                "2026-10-25/030000.jpg",
            ]
        );
        // Every snapshot whole: the repeated hour overwrote nothing.
        let mut bytes: Vec<String> = files
            .iter()
            .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
            .collect();
        bytes.sort();
        assert_eq!(
            bytes,
            (0..5).map(|i| format!("snapshot {i}")).collect::<Vec<_>>()
        );
        assert_eq!(files[1].1, b"snapshot 0", "the first 02:00 keeps its name");
        // Reopened, the names are read back as local times: all five are kept.
        assert_eq!(
            Archive::open(&config(dir.path(), 1 << 20))
                .retention()
                .len(),
            5
        );

        // Spring: 2026-03-29T01:00:00Z, 02:00 CET becomes 03:00 CEST; no 02:xx exists.
        let change = 1_774_746_000;
        let dir = tempfile::tempdir().unwrap();
        let times: Vec<u64> = (0..4).map(|i| change - H + i * H / 2).collect();
        let files = store_at(dir.path(), &times);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "2026-03-29/010000.jpg",
                "2026-03-29/013000.jpg",
                "2026-03-29/030000.jpg",
                "2026-03-29/033000.jpg",
            ]
        );
    }

    #[test]
    fn with_no_snapshot_coming_the_writer_still_deletes_what_grew_too_old() {
        let dir = tempfile::tempdir().unwrap();
        let config = ArchiveConfig {
            dir: dir.path().to_path_buf(),
            keep: Duration::from_secs(24 * 3600),
            max_size: 1 << 20,
        };
        {
            let mut a = Archive::open(&config);
            a.store(&ArchiveRequest {
                camera: "cam".into(),
                jpeg: Bytes::from_static(b"today"),
                received: SystemTime::now(),
                alarm: false,
            })
            .unwrap();
        }
        assert_eq!(walk(dir.path()).len(), 1);
        assert_eq!(
            SWEEP_EVERY,
            Duration::from_secs(3600),
            "README: once an hour"
        );
        // The writer opens the archive (today's file is young) and then hears nothing: its sweep
        // (every 10 ms here, every hour in use) reads a clock two days on.
        let (failed, _) = tokio::sync::mpsc::channel(1);
        let two_days_on = || SystemTime::now() + Duration::from_secs(2 * 24 * 3600);
        let _writer =
            ArchiveWriter::start_with(config, failed, Duration::from_millis(10), two_days_on);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !walk(dir.path()).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the sweep never deleted {:?}",
                listing(dir.path())
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

//! Validation: the file as written into the typed configuration, every error with its line.
//! One file per section of the configuration: [`brokers`] (`mqtt`, `camera_mqtt`), [`cameras`]
//! and [`camera_topics`]; the top-level settings are read here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults::*;
use super::locate::{locate, Seg};
use super::raw::{RawArchive, RawConfig, Scalar};
use super::{ArchiveConfig, Config, ConfigError, Level};

mod brokers;
mod camera_topics;
mod cameras;

use brokers::brokers;
use camera_topics::camera_topics;
use cameras::cameras;

pub(super) struct Check<'a> {
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Check<'_> {
    fn error(&mut self, path: &[Seg], message: String) {
        let line = locate(self.text, path);
        self.errors.push(ConfigError { line, message });
    }
}

pub(super) fn validate(
    mut raw: RawConfig,
    text: &str,
    dir: Option<&Path>,
) -> Result<Config, Vec<ConfigError>> {
    let mut c = Check {
        text,
        errors: Vec::new(),
    };
    let tuning = tuning(&mut c, &mut raw);
    let (mqtt, camera_mqtt) = brokers(&mut c, raw.mqtt, raw.camera_mqtt, dir);
    let camera_topic_prefix = topic_prefix(
        &mut c,
        "camera_topic_prefix",
        raw.camera_topic_prefix,
        DEFAULT_CAMERA_TOPIC_PREFIX,
    );
    let discovery_prefix = topic_prefix(
        &mut c,
        "discovery_prefix",
        raw.discovery_prefix,
        DEFAULT_DISCOVERY_PREFIX,
    );
    let base_topic = topic_prefix(&mut c, "base_topic", raw.base_topic, DEFAULT_BASE_TOPIC);
    // On one broker with Home Assistant, the camera topics must stay clear of the bridge's own.
    let own = match &camera_mqtt {
        None => vec![format!("{base_topic}/#"), format!("{discovery_prefix}/#")],
        Some(_) => Vec::new(),
    };
    let camera_topics = camera_topics(&mut c, raw.camera_topics, &camera_topic_prefix, &own);
    let log_level = log_level(&mut c, raw.log_level);
    let cameras = cameras(&mut c, raw.cameras);
    let archive = raw.archive.map(|a| archive(&mut c, a, dir));
    if !c.errors.is_empty() {
        // In file order, as a reader fixes them.
        c.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        return Err(c.errors);
    }
    // A broker that could not be read has recorded an error above: both are here.
    let camera_mqtt = camera_mqtt.map_or(Some(None), |b| b.map(Some));
    let (Some(mqtt), Some(camera_mqtt)) = (mqtt, camera_mqtt) else {
        return Err(c.errors);
    };
    Ok(Config {
        // With cameras on the user's own broker, a new MAC is one of theirs; on a separate (often
        // public) camera broker it may be anyone's.
        discover_unknown: raw.discover_unknown.unwrap_or(camera_mqtt.is_none()),
        mqtt,
        camera_mqtt,
        camera_topic_prefix,
        camera_topics,
        discovery_prefix,
        base_topic,
        alarm_off_after: tuning.alarm_off_after,
        awake_timeout: tuning.awake_timeout,
        command_timeout: tuning.command_timeout,
        wake_retries: tuning.wake_retries,
        snapshot_max_bytes: tuning.snapshot_max_bytes,
        discover_max: tuning.discover_max,
        alarm_snapshot_window: tuning.alarm_snapshot_window,
        archive,
        log_level,
        state_dir: raw.state_dir.map(|d| resolve(dir, &d)),
        cameras,
        warnings: Vec::new(),
    })
}

/// The timings and bounds at the top level of the file.
struct Tuning {
    alarm_off_after: Duration,
    awake_timeout: Duration,
    command_timeout: Duration,
    alarm_snapshot_window: Duration,
    wake_retries: u32,
    discover_max: usize,
    snapshot_max_bytes: usize,
}

fn tuning(c: &mut Check, raw: &mut RawConfig) -> Tuning {
    let mut secs = |key, value, default| duration(c, &[Seg::Key(key)], value, default);
    let alarm_off_after = secs(
        "alarm_off_after",
        raw.alarm_off_after.take(),
        DEFAULT_ALARM_OFF_AFTER,
    );
    let awake_timeout = secs(
        "awake_timeout",
        raw.awake_timeout.take(),
        DEFAULT_AWAKE_TIMEOUT,
    );
    let command_timeout = secs(
        "command_timeout",
        raw.command_timeout.take(),
        DEFAULT_COMMAND_TIMEOUT,
    );
    let alarm_snapshot_window = secs(
        "alarm_snapshot_window",
        raw.alarm_snapshot_window.take(),
        DEFAULT_ALARM_SNAPSHOT_WINDOW,
    );
    let wake_retries = in_range(
        c,
        "wake_retries",
        raw.wake_retries.map(u64::from),
        1..=20,
        DEFAULT_WAKE_RETRIES as u64,
        "",
    ) as u32;
    let discover_max = in_range(
        c,
        "discover_max",
        raw.discover_max.map(u64::from),
        0..=1000,
        DEFAULT_DISCOVER_MAX as u64,
        ", and list cameras you want for sure",
    ) as usize;
    let snapshot_max_bytes = in_range(
        c,
        "snapshot_max_bytes",
        raw.snapshot_max_bytes,
        1024..=MAX_MQTT_PAYLOAD,
        DEFAULT_SNAPSHOT_MAX_BYTES as u64,
        "",
    ) as usize;
    Tuning {
        alarm_off_after,
        awake_timeout,
        command_timeout,
        alarm_snapshot_window,
        wake_retries,
        discover_max,
        snapshot_max_bytes,
    }
}

/// The largest MQTT payload, less room for the topic and header.
const MAX_MQTT_PAYLOAD: u64 = 256 * 1024 * 1024 - 1024;

/// A number within `range`, or `default` (with an error recorded) when it is outside.
pub(super) fn in_range(
    c: &mut Check,
    key: &'static str,
    value: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    advice: &str,
) -> u64 {
    match value {
        None => default,
        Some(n) if range.contains(&n) => n,
        Some(n) => {
            let (lo, hi) = (range.start(), range.end());
            c.error(
                &[Seg::Key(key)],
                format!("{key}: {n} is out of range; use {lo} to {hi} (default {default}){advice}"),
            );
            default
        }
    }
}

fn log_level(c: &mut Check, level: Option<String>) -> Option<Level> {
    let l = level?.to_ascii_lowercase();
    let found = Level::ALL.into_iter().find(|level| level.as_str() == l);
    if found.is_none() {
        c.error(
            &[Seg::Key("log_level")],
            format!("log_level {l:?} is not a level; use error, warn, info, debug or trace"),
        );
    }
    found
}

fn archive(c: &mut Check, a: RawArchive, dir: Option<&Path>) -> ArchiveConfig {
    let keep = [Seg::Key("archive"), Seg::Key("keep")];
    ArchiveConfig {
        dir: resolve(dir, &a.dir),
        keep: duration(c, &keep, a.keep, DEFAULT_ARCHIVE_KEEP),
        max_size: match a.max_size.map(|s| parse_size(&s.text())) {
            None => DEFAULT_ARCHIVE_MAX_SIZE,
            Some(Ok(n)) if n >= 1 << 20 => n,
            Some(Ok(_)) | Some(Err(_)) => {
                c.error(
                    &[Seg::Key("archive"), Seg::Key("max_size")],
                    "archive.max_size: write a size of at least 1MB, e.g. 500MB or 2GB".to_string(),
                );
                DEFAULT_ARCHIVE_MAX_SIZE
            }
        },
    }
}

/// A positive duration under `path`, or `default` (with an error recorded) when it is not one.
pub(super) fn duration(
    c: &mut Check,
    path: &[Seg],
    value: Option<Scalar>,
    default: Duration,
) -> Duration {
    let key = match path.last() {
        Some(Seg::Key(k)) => *k,
        _ => "duration",
    };
    match value.map(|s| parse_duration(&s.text())) {
        None => default,
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => {
            c.error(path, format!("{key} must be longer than 0s"));
            default
        }
        Some(Err(e)) => {
            c.error(path, format!("{key}: {e}"));
            default
        }
    }
}

/// A path from the file, relative to the file's own directory.
pub(super) fn resolve(dir: Option<&Path>, p: &Path) -> PathBuf {
    match dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    }
}

fn topic_prefix(c: &mut Check, key: &'static str, value: Option<String>, default: &str) -> String {
    let Some(v) = value else {
        return default.to_string();
    };
    let problem = if v.is_empty() {
        Some("is empty")
    } else if v.contains(['+', '#']) {
        Some("holds an MQTT wildcard (+ or #)")
    } else if v.starts_with('/') || v.ends_with('/') {
        Some("starts or ends with '/'")
    } else if v.contains('\0') {
        Some("holds a NUL character")
    } else {
        None
    };
    if let Some(p) = problem {
        c.error(
            &[Seg::Key(key)],
            format!("{key} {v:?} {p}; use a plain topic such as {default:?}"),
        );
        return default.to_string();
    }
    v
}

/// `30s`, `2m`, `1h 30m`, `500ms`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if (0.0..1e9).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(t)
        .map_err(|_| format!("{t:?} is not a duration; write e.g. 30s, 2m or 1h"))
}

/// `2GB`, `500MB`, `1.5GiB`, `300000` (bytes): decimal units are powers of 1000, `iB` of 1024.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{t:?} is not a size; write e.g. 500MB or 2GB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "{t:?}: unit {other:?} is not one of B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
            ))
        }
    };
    let bytes = number * scale;
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("{t:?} is out of range"));
    }
    Ok(bytes as u64)
}

//! The bridge's own counters, and when they are published.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{cut, Bridge, Link, Publish, MAX_ATTRIBUTE_CHARS, MAX_STATE_CHARS};
use crate::discovery::Diagnostic;
use tracing::warn;

/// Diagnostics are published at most this often.
pub const DIAGNOSTICS_EVERY: Duration = Duration::from_secs(5);

/// Counters for the log and the bridge's diagnostic sensors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub published: u64,
    /// Payloads that could not be read or were refused (no JPEG, too large, not JSON…).
    pub rejected: u64,
    /// Payloads whose camera could not be told.
    pub unattributed: u64,
    /// Messages from unlisted cameras that were not made into devices.
    pub refused_cameras: u64,
    /// Connections lost (and then re-established by the shell).
    pub reconnects: u64,
    /// Snapshots the archive could not keep.
    pub archive_failures: u64,
    pub last_error: Option<String>,
}

/// The counters, and when they are next published: at most every [`DIAGNOSTICS_EVERY`], and only
/// after something changed.
#[derive(Debug, Default)]
pub(super) struct Diagnostics {
    stats: Stats,
    /// When they are next published; `None` while nothing changed.
    due: Option<Instant>,
    /// A counter changed since they were last published or scheduled: they are scheduled when
    /// the event's handling ends, from the `now` that event brought (the core reads no clock).
    dirty: bool,
}

/// What the counters count (each one of [`Stats`]'s numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counter {
    Received,
    Published,
    Rejected,
    Unattributed,
    RefusedCameras,
    Reconnects,
    ArchiveFailures,
}

impl Diagnostics {
    pub(super) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// When they are next to be published.
    pub(super) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Counts `n` more of `counter`. Each counter but `Published` makes the diagnostics due: their
    /// own publication counts as published, which would make them due again, for ever.
    pub(super) fn count(&mut self, counter: Counter, n: u64) {
        let s = &mut self.stats;
        let value = match counter {
            Counter::Received => &mut s.received,
            Counter::Published => &mut s.published,
            Counter::Rejected => &mut s.rejected,
            Counter::Unattributed => &mut s.unattributed,
            Counter::RefusedCameras => &mut s.refused_cameras,
            Counter::Reconnects => &mut s.reconnects,
            Counter::ArchiveFailures => &mut s.archive_failures,
        };
        *value += n;
        if counter != Counter::Published {
            self.dirty = true;
        }
    }

    /// The problem the "Last error" sensor shows.
    pub(super) fn note_error(&mut self, message: String) {
        self.stats.last_error = Some(message);
        self.dirty = true;
    }

    /// Whether they are due at `now`; then they are no longer.
    pub(super) fn take_due(&mut self, now: Instant) -> bool {
        if self.due.is_some_and(|t| t <= now) {
            self.due = None;
            self.dirty = false;
            return true;
        }
        false
    }

    /// After an event: a change schedules the next publication, unless one is scheduled.
    pub(super) fn schedule(&mut self, now: Instant) {
        if std::mem::take(&mut self.dirty) && self.due.is_none() {
            self.due = Some(now + DIAGNOSTICS_EVERY);
        }
    }
}

impl Bridge {
    /// Logs a payload or command refused, counts it, and keeps it as the last error.
    pub(super) fn reject(&mut self, message: String) {
        warn!("{message}");
        self.diagnostics.count(Counter::Rejected, 1);
        self.note_error(message);
    }

    /// Records a problem for the "last error" sensor (the caller logs it).
    pub(super) fn note_error(&mut self, message: String) {
        self.diagnostics.note_error(message);
    }

    pub(super) fn publish_diagnostics(&mut self) {
        let s = self.diagnostics.stats();
        let values = [
            (Diagnostic::Received, s.received.to_string()),
            // Counted before these publishes; they are the bridge's bookkeeping, not its work.
            (Diagnostic::Published, s.published.to_string()),
            (Diagnostic::Rejected, s.rejected.to_string()),
            (Diagnostic::Unattributed, s.unattributed.to_string()),
            (Diagnostic::RefusedCameras, s.refused_cameras.to_string()),
            (Diagnostic::Reconnects, s.reconnects.to_string()),
            (Diagnostic::ArchiveFailures, s.archive_failures.to_string()),
            (
                Diagnostic::LastError,
                s.last_error
                    .as_deref()
                    .map_or_else(|| "none".into(), |e| cut(e, MAX_STATE_CHARS)),
            ),
        ];
        let message = s.last_error.as_deref().map(|e| cut(e, MAX_ATTRIBUTE_CHARS));
        let attributes = serde_json::json!({ "message": message });
        let topic = self.topics.last_error_attributes();
        let attributes = Bytes::from(attributes.to_string());
        self.send(Publish::new(Link::Ha, topic, attributes, true), false);
        for (d, value) in values {
            let topic = self.topics.diagnostic(d);
            self.send(
                Publish::new(Link::Ha, topic, Bytes::from(value), true),
                false,
            );
        }
    }
}

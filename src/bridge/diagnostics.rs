//! The bridge's own counters, and when they are published.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use super::{cut, Bridge, Link, Publish, MAX_ATTRIBUTE_CHARS, MAX_STATE_CHARS};
use crate::discovery::{Counter, Diagnostic};
use tracing::warn;

/// Diagnostics are published at most this often.
pub const DIAGNOSTICS_EVERY: Duration = Duration::from_secs(5);

/// The counters' values, for the log and the bridge's diagnostic sensors, and the last error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    counts: HashMap<Counter, u64>,
    pub last_error: Option<String>,
}

impl Stats {
    /// How many `counter` has counted since the start.
    pub fn get(&self, counter: Counter) -> u64 {
        self.counts.get(&counter).copied().unwrap_or(0)
    }
}

/// The counters, and whether they changed since they were last published (their publication is
/// the table's `BridgeTimer::Diagnostics`: at most every [`DIAGNOSTICS_EVERY`], after a change).
#[derive(Debug, Default)]
pub(super) struct Diagnostics {
    stats: Stats,
    /// A counter changed since they were last published or scheduled: they are scheduled when
    /// the event's handling ends, from the `now` that event brought (the core reads no clock).
    dirty: bool,
}

impl Diagnostics {
    pub(super) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Counts `n` more of `counter`. Each counter but `Published` makes the diagnostics due: their
    /// own publication counts as published, which would make them due again, for ever.
    pub(super) fn count(&mut self, counter: Counter, n: u64) {
        *self.stats.counts.entry(counter).or_insert(0) += n;
        if counter != Counter::Published {
            self.dirty = true;
        }
    }

    /// The problem the "Last error" sensor shows.
    pub(super) fn note_error(&mut self, message: String) {
        self.stats.last_error = Some(message);
        self.dirty = true;
    }

    /// Whether a counter changed since this was last asked; then it has not.
    pub(super) fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
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
        // "Published" as counted before these publishes: they are the bridge's bookkeeping.
        let last_error = s
            .last_error
            .as_deref()
            .map_or_else(|| "none".into(), |e| cut(e, MAX_STATE_CHARS));
        let values: Vec<(Diagnostic, String)> = Counter::ALL
            .iter()
            .map(|&c| (Diagnostic::Counter(c), s.get(c).to_string()))
            .chain([(Diagnostic::LastError, last_error)])
            .collect();
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

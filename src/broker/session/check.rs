//! The broker state's invariants, checked after every packet by the property tests and the
//! fuzz target.

use super::{limits, State};

impl State {
    /// The counts kept beside the data agree with it, and every bound holds.
    #[doc(hidden)]
    pub fn check(&self) -> Result<(), String> {
        let retained = &self.retained;
        let bytes: usize = retained.messages.values().map(|m| m.size()).sum();
        if bytes != retained.bytes {
            return Err(format!(
                "retained: {bytes} bytes kept, {} counted",
                retained.bytes
            ));
        }
        if retained.messages.len() > limits::RETAINED || bytes > limits::RETAINED_BYTES {
            return Err(format!(
                "retained: {} messages, {bytes} bytes",
                retained.messages.len()
            ));
        }
        if let Some(m) = retained.messages.values().find(|m| m.payload.is_empty()) {
            return Err(format!("retained: an empty message kept on {}", m.topic));
        }
        if self.sessions.len() > limits::SESSIONS {
            return Err(format!("{} sessions", self.sessions.len()));
        }
        if let Some(id) = self
            .wills
            .keys()
            .find(|id| !self.sessions.contains_key(*id))
        {
            return Err(format!("{id}: a will waits for a session that is gone"));
        }
        for (id, s) in &self.sessions {
            let queued: usize = s.queued.iter().map(|m| m.size()).sum();
            if queued != s.queued_bytes {
                return Err(format!(
                    "{id}: {queued} bytes queued, {} counted",
                    s.queued_bytes
                ));
            }
            if s.queued.len() > limits::QUEUED
                || queued > limits::QUEUED_BYTES
                || s.inflight.len() > limits::INFLIGHT
                || s.subscriptions.len() > limits::SUBSCRIPTIONS
                || s.unreleased.len() > usize::from(limits::RECEIVE_MAXIMUM)
            {
                return Err(format!("{id}: over a limit"));
            }
            let mut filters: Vec<&str> =
                s.subscriptions.iter().map(|k| k.filter.as_str()).collect();
            filters.sort_unstable();
            filters.dedup();
            if filters.len() != s.subscriptions.len() {
                return Err(format!("{id}: a filter subscribed twice"));
            }
        }
        Ok(())
    }
}

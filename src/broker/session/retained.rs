//! Retained messages, bounded in count and bytes.

use std::collections::HashMap;
use std::time::Instant;

use super::limits;
use crate::broker::message::Message;
use crate::topic::topic_matches;

/// Retained messages, bounded in count and bytes.
#[derive(Default)]
pub(super) struct Retained {
    pub(super) messages: HashMap<String, Message>,
    pub(super) bytes: usize,
}

impl Retained {
    /// Keeps (or, for an empty payload, clears) `m` as its topic's retained message. False when
    /// there is no room for it.
    pub(super) fn store(&mut self, m: &Message) -> bool {
        if m.payload.is_empty() {
            if let Some(old) = self.messages.remove(&m.topic) {
                self.bytes -= old.size();
            }
            return true;
        }
        let old = self.messages.get(&m.topic).map_or(0, Message::size);
        let new_topic = old == 0;
        if (new_topic && self.messages.len() >= limits::RETAINED)
            || self.bytes - old + m.size() > limits::RETAINED_BYTES
        {
            return false;
        }
        self.bytes = self.bytes - old + m.size();
        let mut kept = m.clone();
        kept.pkid = 0;
        kept.dup = false;
        kept.subscription_ids.clear();
        self.messages.insert(m.topic.clone(), kept);
        true
    }

    /// The retained messages `filter` matches, dropping those whose expiry has passed.
    pub(super) fn matching(&mut self, filter: &str, now: Instant) -> Vec<Message> {
        let expired: Vec<String> = self
            .messages
            .values()
            .filter(|m| m.expired(now))
            .map(|m| m.topic.clone())
            .collect();
        for topic in expired {
            if let Some(old) = self.messages.remove(&topic) {
                self.bytes -= old.size();
            }
        }
        self.messages
            .values()
            .filter(|m| topic_matches(filter, &m.topic))
            .cloned()
            .collect()
    }
}

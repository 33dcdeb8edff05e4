//! Output: what Home Assistant and the cameras are sent, and what else the shell is to do, queued
//! as actions in the [`Outbox`]. Only this file puts actions in it; every publish goes through
//! [`Bridge::send`], where it is counted.

use std::collections::VecDeque;

use bytes::Bytes;
use tracing::warn;

use super::{Ack, Action, ArchiveRequest, Bridge, Link, Publish};
use crate::discovery::{Counter, StateTopic};
use crate::mac::Mac;

impl Bridge {
    pub(super) fn publish_state(&mut self, mac: Mac, state: StateTopic, payload: Bytes) {
        self.publish(Link::Ha, self.topics.state(mac, state), payload, true);
    }

    pub(super) fn publish_json<T: serde::Serialize>(&mut self, topic: String, value: &T) {
        match serde_json::to_vec(value) {
            Ok(json) => self.publish(Link::Ha, topic, Bytes::from(json), true),
            Err(e) => warn!("{topic}: cannot serialise: {e}"),
        }
    }

    pub(super) fn publish(&mut self, link: Link, topic: String, payload: Bytes, retain: bool) {
        self.send(Publish::new(link, topic, payload, retain), true);
    }

    /// Queues `p` for the shell. The one place "Published" is counted: everything the bridge
    /// sends counts (`counted`) but the diagnostics' own states, whose counting would make the
    /// diagnostics due again after each of their publications, for ever.
    pub(super) fn send(&mut self, p: Publish, counted: bool) {
        if counted {
            self.diagnostics.count(Counter::Published, 1);
        }
        self.outbox.0.push_back(Action::Publish(p));
    }

    pub(super) fn subscribe(&mut self, link: Link, filters: Vec<String>) {
        self.outbox.0.push_back(Action::Subscribe { link, filters });
    }

    pub(super) fn unsubscribe(&mut self, link: Link, filters: Vec<String>) {
        self.outbox
            .0
            .push_back(Action::Unsubscribe { link, filters });
    }

    /// What must survive a restart changed: the shell keeps it.
    pub(super) fn save_state(&mut self) {
        let saved = self.saved();
        self.outbox.0.push_back(Action::SaveState(saved));
    }

    pub(super) fn archive(&mut self, request: ArchiveRequest) {
        self.outbox.0.push_back(Action::Archive(request));
    }

    /// The broker may drop its copy of a message once the actions before this are out.
    pub(super) fn queue_ack(&mut self, ack: Ack) {
        self.outbox.0.push_back(Action::Acknowledge(ack));
    }

    /// Once the actions before it are out (on the old connections), connect again.
    pub(super) fn reconnect(&mut self) {
        self.outbox.0.push_back(Action::Reconnect);
    }
}

/// The actions waiting for the shell, in order. Filled by the methods above; the shell empties
/// it through [`Bridge::poll_action`].
#[derive(Debug, Default)]
pub(super) struct Outbox(VecDeque<Action>);

impl Outbox {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn pop(&mut self) -> Option<Action> {
        self.0.pop_front()
    }
}

//! Output: what Home Assistant and the cameras are sent, queued as actions for the shell. Every
//! publish goes through [`Bridge::send`], where it is counted.

use bytes::Bytes;
use tracing::warn;

use super::{Action, Bridge, Link, Publish};
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
        self.actions.push_back(Action::Publish(p));
    }
}

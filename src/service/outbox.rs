//! What waits to go out to a broker, bounded, for when the broker is away.
//!
//! During an outage the core keeps producing: states, snapshots, commands. The outbox keeps them
//! in order for when the connection returns, within a byte budget. Only what a newer message makes
//! pointless may be dropped: a retained state superseded by a newer one for the same topic (an
//! older snapshot of the same camera, say). Commands for cameras, subscriptions and
//! acknowledgements are never dropped. Dropped messages are counted, so the shell can say how
//! many.
//!
//! Everything goes out in the order it came, acknowledgements too: one acknowledges a camera
//! message, so it must not overtake what that message caused (see [`crate::bridge::Ack`]). A
//! broker that waits for them (a stock Mosquitto sends 20 unacknowledged messages) is slowed by
//! no more than the bridge's own publishing.

use std::collections::VecDeque;

use crate::bridge::Publish;

/// Room for a few snapshots of every camera and all their states.
pub(crate) const DEFAULT_LIMIT: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    Publish(Publish),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    /// The acknowledgement of a QoS 1 message whose consequences are queued before it (its
    /// packet id).
    Ack(u16),
    Disconnect,
}

impl Outgoing {
    /// A state a newer one replaces: retained, not a command.
    fn superseded_by(&self, newer: &Publish) -> bool {
        match self {
            Outgoing::Publish(p) => p.retain && !p.is_command() && p.topic == newer.topic,
            _ => false,
        }
    }

    fn droppable(&self) -> bool {
        matches!(self, Outgoing::Publish(p) if p.retain && !p.is_command())
    }

    fn size(&self) -> usize {
        match self {
            Outgoing::Publish(p) => p.topic.len() + p.payload.len(),
            Outgoing::Subscribe(f) | Outgoing::Unsubscribe(f) => f.iter().map(String::len).sum(),
            Outgoing::Ack(_) | Outgoing::Disconnect => 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<Outgoing>,
    bytes: usize,
    limit: usize,
    dropped: u64,
    /// While connected, every state goes out in order (Home Assistant keeps its history); only
    /// while the broker is away do newer states replace older ones.
    connected: bool,
}

impl Outbox {
    pub(crate) fn new(limit: usize) -> Outbox {
        Outbox {
            queue: VecDeque::new(),
            bytes: 0,
            limit,
            dropped: 0,
            connected: false,
        }
    }

    /// The connection is up (`true`) or away (`false`).
    pub(crate) fn set_connected(&mut self, connected: bool) {
        self.connected = connected;
    }

    pub(crate) fn push(&mut self, o: Outgoing) {
        if let Outgoing::Publish(p) = &o {
            if !self.connected && p.retain && !p.is_command() {
                if let Some(i) = self.queue.iter().position(|q| q.superseded_by(p)) {
                    self.remove(i);
                }
            }
        }
        self.bytes += o.size();
        self.queue.push_back(o);
        // Over budget: the oldest states go first; never the message just queued.
        while self.bytes > self.limit {
            let last = self.queue.len() - 1;
            match self.queue.iter().take(last).position(Outgoing::droppable) {
                Some(i) => self.remove(i),
                None => break,
            }
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(old) = self.queue.remove(i) {
            self.bytes -= old.size();
            self.dropped += 1;
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Outgoing> {
        let o = self.queue.pop_front()?;
        self.bytes -= o.size();
        Some(o)
    }

    /// How many messages were dropped since the last call.
    pub(crate) fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{Link, Qos};
    use bytes::Bytes;

    fn state(topic: &str, payload: &str) -> Outgoing {
        Outgoing::Publish(Publish {
            link: Link::Ha,
            topic: topic.into(),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            qos: Qos::AtLeastOnce,
            retain: true,
        })
    }

    fn command(topic: &str) -> Outgoing {
        Outgoing::Publish(Publish {
            link: Link::Camera,
            topic: topic.into(),
            payload: Bytes::from_static(b"reboot"),
            qos: Qos::AtLeastOnce,
            retain: false,
        })
    }

    fn drain(o: &mut Outbox) -> Vec<Outgoing> {
        std::iter::from_fn(|| o.pop()).collect()
    }

    #[test]
    fn while_connected_every_state_goes_out_in_order() {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        o.set_connected(true);
        o.push(state("a/battery", "50"));
        o.push(state("a/battery", "49"));
        assert_eq!(o.take_dropped(), 0);
        assert_eq!(
            drain(&mut o),
            vec![state("a/battery", "50"), state("a/battery", "49")]
        );
    }

    #[test]
    fn while_away_an_older_state_of_the_same_topic_is_replaced_by_the_newer_one() {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        o.push(state("a/snapshot", "old"));
        o.push(state("a/battery", "50"));
        o.push(command("cam/Config/A"));
        o.push(state("a/snapshot", "new"));
        assert_eq!(o.take_dropped(), 1);
        assert_eq!(
            drain(&mut o),
            vec![
                state("a/battery", "50"),
                command("cam/Config/A"),
                state("a/snapshot", "new")
            ]
        );
        assert_eq!(o.bytes(), 0);
    }

    #[test]
    fn acknowledgements_keep_their_place_behind_what_their_messages_caused() {
        for connected in [true, false] {
            let mut o = Outbox::new(DEFAULT_LIMIT);
            o.set_connected(connected);
            o.push(state("a/status", "{}"));
            o.push(Outgoing::Ack(7));
            o.push(state("a/battery", "50"));
            o.push(Outgoing::Ack(8));
            o.push(Outgoing::Disconnect);
            assert_eq!(o.take_dropped(), 0);
            assert_eq!(
                drain(&mut o),
                vec![
                    state("a/status", "{}"),
                    Outgoing::Ack(7),
                    state("a/battery", "50"),
                    Outgoing::Ack(8),
                    Outgoing::Disconnect
                ]
            );
            assert_eq!(o.bytes(), 0);
        }
    }

    #[test]
    fn over_budget_acknowledgements_are_kept_and_keep_their_place() {
        // Each state counts 12 bytes: the second is over budget and the first goes.
        let mut o = Outbox::new(12);
        o.push(state("s1", "0123456789"));
        o.push(Outgoing::Ack(1));
        o.push(state("s2", "0123456789"));
        o.push(Outgoing::Ack(2));
        assert_eq!(o.take_dropped(), 1);
        assert_eq!(
            drain(&mut o),
            vec![
                Outgoing::Ack(1),
                state("s2", "0123456789"),
                Outgoing::Ack(2)
            ]
        );
    }

    #[test]
    fn commands_are_never_dropped_or_merged() {
        let mut o = Outbox::new(10);
        for _ in 0..5 {
            o.push(command("cam/Config/A"));
        }
        o.push(state("a/snapshot", "a big snapshot"));
        assert_eq!(o.take_dropped(), 0);
        assert_eq!(o.len(), 6);
    }

    #[test]
    fn over_budget_the_oldest_states_go_first() {
        // Each state counts 12 bytes (topic and payload), the command 7.
        let mut o = Outbox::new(31);
        o.push(state("s1", "0123456789"));
        o.push(command("c"));
        o.push(state("s2", "0123456789"));
        o.push(state("s3", "0123456789"));
        assert_eq!(o.take_dropped(), 1);
        assert_eq!(
            drain(&mut o),
            vec![
                command("c"),
                state("s2", "0123456789"),
                state("s3", "0123456789")
            ]
        );
    }

    #[test]
    fn a_message_bigger_than_the_budget_still_goes_out() {
        let mut o = Outbox::new(4);
        o.push(state("s", "much more than four bytes"));
        assert_eq!(o.len(), 1);
        assert_eq!(o.take_dropped(), 0);
        assert_eq!(o.pop(), Some(state("s", "much more than four bytes")));
        assert_eq!(o.pop(), None);
        assert_eq!(o.bytes(), 0);
    }
}

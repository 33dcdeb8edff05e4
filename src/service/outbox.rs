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
//! no more than the bridge's own publishing. With a camera broker of its own, what a message
//! caused goes out on the other connection, so its acknowledgement carries how much of that
//! connection's outbox must be written first ([`Outbox::queued_until`], [`Outbox::out_before`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::bridge::Publish;

/// Room for a few snapshots of every camera and all their states.
pub(crate) const DEFAULT_LIMIT: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outgoing {
    Publish(Publish),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    /// The acknowledgement of a QoS 1 message whose consequences are queued before it.
    Ack {
        packet_id: u16,
        /// Its consequences are queued on another connection: this goes out once that one's
        /// outbox has written what it held up to here (see [`Outbox::out_before`]).
        after: Option<u64>,
    },
    Disconnect,
}

/// How long acknowledgements on another connection wait for this one while its broker is away.
/// A broker restart or an add-on update takes seconds to a minute: an alarm read meanwhile stays
/// with the camera broker, which sends it again if the bridge dies. Past this, the camera side
/// flows again (commands waiting for a camera to wake, the newest states kept over older ones)
/// and the bridge keeps what it read, as for one broker, rather than let the camera broker's
/// queue (1,000 messages on a stock Mosquitto) fill and drop the newest.
pub(crate) const ACKS_WAIT_AT_MOST: Duration = Duration::from_secs(60);

/// How long a publish handed to the client may stay unwritten before acknowledgements stop
/// waiting for it. The client writes and flushes each one at once, or fails the connection
/// (which [`Outbox::lost`] covers): this only bounds what a miscount could cost, so that
/// acknowledgements are late at worst, never stuck.
pub(crate) const UNWRITTEN_AT_MOST: Duration = Duration::from_secs(10);

/// What an acknowledgement counts for in the budget: its place in memory, so that a broker that
/// sends without waiting for them cannot make the bridge queue them without bound (the shell
/// stops reading camera messages while an outbox is full).
const ACK_SIZE: usize = 64;

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
            Outgoing::Ack { .. } => ACK_SIZE,
            Outgoing::Disconnect => 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Outbox {
    /// Each with its place in the order of everything ever queued.
    queue: VecDeque<(u64, Outgoing)>,
    /// The place the next one takes.
    next: u64,
    /// Publishes handed to the client (by place) whose writing the poller has not yet seen; kept
    /// only for a connection another waits on ([`Outbox::track_writes`]).
    unwritten: VecDeque<(u64, Instant)>,
    tracking: bool,
    bytes: usize,
    limit: usize,
    dropped: u64,
    /// While connected, every state goes out in order (Home Assistant keeps its history); only
    /// while the broker is away do newer states replace older ones.
    connected: bool,
    /// Since when the broker is away (from the first failed or lost connection).
    away_since: Option<Instant>,
}

impl Outbox {
    pub(crate) fn new(limit: usize) -> Outbox {
        Outbox {
            queue: VecDeque::new(),
            next: 0,
            unwritten: VecDeque::new(),
            tracking: false,
            bytes: 0,
            limit,
            dropped: 0,
            connected: false,
            away_since: None,
        }
    }

    /// The connection is up (`true`) or away (`false`), as of `now`.
    pub(crate) fn set_connected(&mut self, connected: bool, now: Instant) {
        self.connected = connected;
        if connected {
            self.away_since = None;
        } else {
            self.away_since.get_or_insert(now);
        }
    }

    pub(crate) fn push(&mut self, o: Outgoing) {
        if let Outgoing::Publish(p) = &o {
            if !self.connected && p.retain && !p.is_command() {
                if let Some(i) = self.queue.iter().position(|(_, q)| q.superseded_by(p)) {
                    self.remove(i);
                }
            }
        }
        self.bytes += o.size();
        self.queue.push_back((self.next, o));
        self.next += 1;
        // Over budget: the oldest states go first; never the message just queued.
        while self.bytes > self.limit {
            let last = self.queue.len() - 1;
            match self
                .queue
                .iter()
                .take(last)
                .position(|(_, q)| q.droppable())
            {
                Some(i) => self.remove(i),
                None => break,
            }
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some((_, old)) = self.queue.remove(i) {
            self.bytes -= old.size();
            self.dropped += 1;
        }
    }

    /// The next thing to hand to the client, at `now`; a publish is then unwritten until
    /// [`Outbox::written`].
    pub(crate) fn pop(&mut self, now: Instant) -> Option<Outgoing> {
        let (place, o) = self.queue.pop_front()?;
        self.bytes -= o.size();
        if self.tracking && matches!(o, Outgoing::Publish(_)) {
            // What a miscount left behind is forgotten once it no longer holds anything back,
            // so that it cannot pile up.
            while self
                .unwritten
                .front()
                .is_some_and(|(_, t)| now.saturating_duration_since(*t) >= UNWRITTEN_AT_MOST)
            {
                self.unwritten.pop_front();
            }
            self.unwritten.push_back((place, now));
        }
        Some(o)
    }

    /// Another connection's acknowledgements wait on this one: from now, what is handed to the
    /// client counts as out only once written.
    pub(crate) fn track_writes(&mut self) {
        self.tracking = true;
    }

    /// Whether [`Outbox::track_writes`] was asked for.
    pub(crate) fn tracks_writes(&self) -> bool {
        self.tracking
    }

    /// The client wrote (and flushed) the oldest publish handed to it: they go out in order.
    pub(crate) fn written(&mut self) {
        self.unwritten.pop_front();
    }

    /// The connection was lost: what the client held is written or gone with it (the connection
    /// this is asked about starts a clean session, so the client sends none of it again).
    pub(crate) fn lost(&mut self) {
        self.unwritten.clear();
    }

    /// A mark for everything queued so far.
    pub(crate) fn queued_until(&self) -> u64 {
        self.next
    }

    /// Whether everything queued before `mark` has been written or dropped.
    pub(crate) fn out_before(&self, mark: u64) -> bool {
        let unwritten = self.unwritten.front().map(|(p, _)| p);
        let oldest = unwritten.or(self.queue.front().map(|(p, _)| p));
        oldest.is_none_or(|p| *p >= mark)
    }

    /// Whether an acknowledgement on another connection given `mark` may go at `now`: what was
    /// queued here before it is out, or the broker has been away for [`ACKS_WAIT_AT_MOST`].
    pub(crate) fn ack_may_go(&self, mark: u64, now: Instant) -> bool {
        self.out_before(mark) || self.acks_wait_until().is_some_and(|t| t <= now)
    }

    /// When acknowledgements stop waiting: [`ACKS_WAIT_AT_MOST`] into an outage, or
    /// [`UNWRITTEN_AT_MOST`] after the oldest unwritten publish was handed to the client.
    pub(crate) fn acks_wait_until(&self) -> Option<Instant> {
        let away = self.away_since.map(|t| t + ACKS_WAIT_AT_MOST);
        let unwritten = self.unwritten.front().map(|(_, t)| *t + UNWRITTEN_AT_MOST);
        match (away, unwritten) {
            (Some(a), Some(u)) => Some(a.min(u)),
            (a, u) => a.or(u),
        }
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

    fn ack(packet_id: u16) -> Outgoing {
        Outgoing::Ack {
            packet_id,
            after: None,
        }
    }

    fn drain(o: &mut Outbox) -> Vec<Outgoing> {
        std::iter::from_fn(|| o.pop(Instant::now())).collect()
    }

    #[test]
    fn while_connected_every_state_goes_out_in_order() {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        o.set_connected(true, Instant::now());
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
            o.set_connected(connected, Instant::now());
            o.push(state("a/status", "{}"));
            o.push(ack(7));
            o.push(state("a/battery", "50"));
            o.push(ack(8));
            o.push(Outgoing::Disconnect);
            assert_eq!(o.take_dropped(), 0);
            assert_eq!(
                drain(&mut o),
                vec![
                    state("a/status", "{}"),
                    ack(7),
                    state("a/battery", "50"),
                    ack(8),
                    Outgoing::Disconnect
                ]
            );
            assert_eq!(o.bytes(), 0);
        }
    }

    #[test]
    fn over_budget_acknowledgements_are_kept_and_keep_their_place() {
        // An acknowledgement counts 64 bytes, each state 12: the second state is over budget
        // and the first goes.
        let mut o = Outbox::new(64 + 12 + 64);
        o.push(state("s1", "0123456789"));
        o.push(ack(1));
        o.push(state("s2", "0123456789"));
        o.push(ack(2));
        assert_eq!(o.take_dropped(), 1);
        assert_eq!(
            drain(&mut o),
            vec![ack(1), state("s2", "0123456789"), ack(2)]
        );
    }

    #[test]
    fn acknowledgements_count_in_the_budget_that_holds_camera_messages_back() {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        for id in 0..1000 {
            o.push(ack(id));
        }
        assert_eq!(o.bytes(), 1000 * ACK_SIZE);
    }

    fn tracked() -> Outbox {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        o.track_writes();
        o
    }

    #[test]
    fn what_was_queued_before_a_mark_is_out_once_written_or_dropped() {
        let mut o = tracked();
        o.set_connected(true, Instant::now());
        assert!(o.out_before(o.queued_until()), "nothing queued");
        o.push(state("a/alarm", "ON"));
        o.push(state("a/event", "{}"));
        let mark = o.queued_until();
        o.push(state("a/battery", "50"));
        assert!(!o.out_before(mark));
        // Handed to the client is not out: written is.
        assert_eq!(o.pop(Instant::now()), Some(state("a/alarm", "ON")));
        assert_eq!(o.pop(Instant::now()), Some(state("a/event", "{}")));
        assert!(!o.out_before(mark));
        o.written();
        assert!(!o.out_before(mark));
        o.written();
        assert!(
            o.out_before(mark),
            "what came after the mark does not count"
        );
        assert!(!o.out_before(o.queued_until()));

        // Dropped while the broker is away: out too (nothing will write it).
        let mut o = tracked();
        o.push(state("a/snapshot", "old"));
        let mark = o.queued_until();
        o.push(state("a/snapshot", "new"));
        assert!(o.out_before(mark));
        assert!(!o.out_before(o.queued_until()));

        // A lost connection takes what the client held: it is not waited for.
        let mut o = tracked();
        o.push(state("a/alarm", "ON"));
        let mark = o.queued_until();
        o.pop(Instant::now());
        assert!(!o.out_before(mark));
        o.lost();
        assert!(o.out_before(mark));
    }

    #[test]
    fn a_publish_handed_but_never_seen_written_holds_acknowledgements_10_s_at_most() {
        let start = Instant::now();
        let mut o = tracked();
        o.set_connected(true, start);
        o.push(state("a/event", "{}"));
        let mark = o.queued_until();
        o.pop(start);
        assert_eq!(o.acks_wait_until(), Some(start + Duration::from_secs(10)));
        assert!(!o.ack_may_go(mark, start + Duration::from_millis(9_999)));
        assert!(o.ack_may_go(mark, start + Duration::from_secs(10)));
        // Never seen written, it does not pile up: the next one handed forgets it.
        o.push(state("a/event", "{}"));
        o.pop(start + Duration::from_secs(10));
        assert_eq!(o.unwritten.len(), 1);
        // Not yet handed (the broker is slow to take it): that waits as long as it takes.
        let mut o = tracked();
        o.set_connected(true, start);
        o.push(state("a/event", "{}"));
        let mark = o.queued_until();
        assert_eq!(o.acks_wait_until(), None);
        assert!(!o.ack_may_go(mark, start + Duration::from_secs(3600)));
    }

    #[test]
    fn untracked_nothing_handed_is_remembered() {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        for _ in 0..1000 {
            o.push(state("a/battery", "50"));
            o.pop(Instant::now());
        }
        assert!(o.unwritten.is_empty());
    }

    #[test]
    fn acknowledgements_wait_for_a_broker_that_is_away_60_s_at_most() {
        let start = Instant::now();
        let mut o = tracked();
        o.set_connected(true, start);
        o.push(state("a/event", "{}"));
        let mark = o.queued_until();
        assert!(
            !o.ack_may_go(mark, start + Duration::from_secs(3600)),
            "connected: it waits"
        );
        o.set_connected(false, start);
        // Away since `start`: a second failed attempt does not move that.
        o.set_connected(false, start + Duration::from_secs(30));
        assert_eq!(o.acks_wait_until(), Some(start + Duration::from_secs(60)));
        assert!(!o.ack_may_go(mark, start + Duration::from_millis(59_999)));
        assert!(o.ack_may_go(mark, start + Duration::from_secs(60)));
        // Back: the next outage counts from its own start.
        o.set_connected(true, start + Duration::from_secs(61));
        assert_eq!(o.acks_wait_until(), None);
        assert!(!o.ack_may_go(mark, start + Duration::from_secs(62)));
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
        assert_eq!(
            o.pop(Instant::now()),
            Some(state("s", "much more than four bytes"))
        );
        assert_eq!(o.pop(Instant::now()), None);
        assert_eq!(o.bytes(), 0);
    }
}

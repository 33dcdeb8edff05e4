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
mod tests;

//! What the embedded broker keeps: sessions (a client's subscriptions and the messages owed to
//! it), retained messages and delayed last wills. Every one of them is bounded, since anyone who
//! can reach the port may try to fill them. One form of each serves both protocol versions.
//!
//! A session outlives its connection for its session expiry interval: none for 3.1.1's clean
//! session 1 and MQTT 5.0's default, for ever for 3.1.1's clean session 0, what the client asks
//! for in 5.0. While it lasts its subscriptions stay, QoS 1 and 2 messages for it are queued,
//! and those it had not acknowledged are sent again, with DUP set, when it returns. A sleeping
//! camera relies on exactly this to get the wake sent while it slept. A session whose interval
//! has run out is dropped ([`State::tick`]).
//!
//! Sending never waits: a packet goes into the connection's queue or, when that queue is full
//! (the client does not read), the connection is told to close. Time is an argument (`now`), so
//! the property tests and the fuzz target drive all of it without a clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::mqttbytes::QoS;
use tokio::sync::{mpsc, Notify};
use tracing::{debug, warn};

use super::codec::{ConnectCode, Outbound, Reason, RetainHandling, SubscribeCode, Subscription};
use super::message::Message;
use super::topic::{topic_matches, valid_filter};

/// The bounds. Generous for a home (a few cameras, one Home Assistant, the bridge), small enough
/// that a stranger filling every one of them costs a Pi a few hundred MB at most.
pub mod limits {
    /// Clients connected at once; more are closed at once.
    pub const CONNECTIONS: usize = 256;
    /// Sessions kept, connected or not.
    pub const SESSIONS: usize = 1024;
    /// Subscriptions one client may hold.
    pub const SUBSCRIPTIONS: usize = 1000;
    /// Retained messages, and their bytes.
    pub const RETAINED: usize = 100_000;
    pub const RETAINED_BYTES: usize = 256 << 20;
    /// Packets and bytes waiting to be written to one client: past either, it is not reading, and
    /// its connection is closed.
    pub const CLIENT_QUEUE: usize = 10_000;
    pub const CLIENT_QUEUE_BYTES: usize = 16 << 20;
    /// QoS 1 and 2 messages sent to one client and not yet acknowledged. A 5.0 client may ask
    /// for fewer (its receive maximum): the rest then wait in its queue.
    pub const INFLIGHT: usize = 1000;
    /// QoS 1 and 2 messages kept for one absent (or flow-controlled) client, and their bytes;
    /// the oldest go first.
    pub const QUEUED: usize = 1000;
    pub const QUEUED_BYTES: usize = 32 << 20;
    /// QoS 2 messages one client may have sent and not yet released (MQTT 5.0's Receive Maximum,
    /// announced in CONNACK); one more closes its connection (0x93).
    pub const RECEIVE_MAXIMUM: u16 = 1000;
    /// MQTT 5.0: topic aliases a client may set (announced as Topic Alias Maximum), and the
    /// most the broker gives one client.
    pub const TOPIC_ALIASES: u16 = 32;
    /// MQTT 5.0: user properties in one packet (CONNECT: with its will's), and the bytes of all
    /// of one packet's properties. Past either, the packet is refused unread.
    pub const USER_PROPERTIES: usize = 32;
    pub const PROPERTY_BYTES: usize = 8 << 10;
}

/// How a connection is told to close, and why (for a 5.0 client's DISCONNECT).
#[derive(Default)]
pub struct Kick {
    notify: Notify,
    reason: AtomicU8,
}

impl Kick {
    /// Tells the connection to close; the first reason given is the one it is told.
    pub fn kick(&self, reason: Reason) {
        let _ = self
            .reason
            .compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire);
        self.notify.notify_one();
    }

    pub fn reason(&self) -> Option<Reason> {
        Reason::from_code(self.reason.load(Ordering::Acquire))
    }

    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Whether it was kicked (for tests: a stored permit completes at once).
    #[doc(hidden)]
    pub fn kicked(&self) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable()
    }
}

/// The connection a session is being served on.
pub struct Online {
    pub connection: u64,
    pub tx: mpsc::Sender<Outbound>,
    /// Bytes in `tx` not yet written (the writer takes them off).
    pub pending: Arc<AtomicUsize>,
    /// Told when the connection must close (taken over, or not reading).
    pub kick: Arc<Kick>,
    /// MQTT 5.0: how many QoS 1 and 2 messages the client takes unacknowledged.
    pub receive_maximum: usize,
    /// MQTT 5.0: the largest packet it takes; a larger message is not sent to it (§3.1.2.11.4).
    pub maximum_packet: Option<usize>,
}

impl Online {
    /// An online connection with 3.1.1's defaults, its packets going to `tx`.
    pub fn new(tx: mpsc::Sender<Outbound>) -> Online {
        Online {
            connection: 0,
            tx,
            pending: Arc::new(AtomicUsize::new(0)),
            kick: Arc::new(Kick::default()),
            receive_maximum: usize::from(u16::MAX),
            maximum_packet: None,
        }
    }

    /// Queues `packet`; false when the client is too far behind (and is then told to go).
    fn send(&self, packet: Outbound) -> bool {
        let size = packet_size(&packet);
        let pending = self.pending.load(Ordering::Acquire);
        let fits = pending + size <= limits::CLIENT_QUEUE_BYTES || pending == 0;
        if fits && self.tx.try_send(packet).is_ok() {
            self.pending.fetch_add(size, Ordering::AcqRel);
            return true;
        }
        self.kick.kick(Reason::QuotaExceeded);
        false
    }
}

/// What a packet costs in a client's queue.
pub fn packet_size(packet: &Outbound) -> usize {
    match packet {
        Outbound::Publish(m) => m.size() + 8,
        _ => 8,
    }
}

/// A subscription as kept.
struct Subscribed {
    filter: String,
    qos: QoS,
    no_local: bool,
    retain_as_published: bool,
    id: Option<u32>,
}

/// A QoS 1 or 2 message sent to a client and not yet acknowledged.
enum Inflight {
    Sent(Message),
    /// QoS 2: the client has it (PUBREC), the broker released it (PUBREL), awaiting PUBCOMP.
    Released,
}

#[derive(Default)]
struct Session {
    subscriptions: Vec<Subscribed>,
    /// How long it is kept after its connection ends, in seconds.
    expiry: u32,
    /// When its connection ended.
    gone_since: Option<Instant>,
    online: Option<Online>,
    inflight: BTreeMap<u16, Inflight>,
    /// QoS 1 and 2 messages waiting: the client is away, or has its receive maximum in flight.
    queued: VecDeque<Message>,
    queued_bytes: usize,
    last_pkid: u16,
    /// QoS 2 messages from the client, received and not yet released, by packet id.
    unreleased: BTreeSet<u16>,
}

impl Session {
    fn next_pkid(&mut self) -> u16 {
        loop {
            self.last_pkid = self.last_pkid.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&self.last_pkid) {
                return self.last_pkid;
            }
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.online.is_none()
            && self.gone_since.is_some_and(|g| {
                now.saturating_duration_since(g) >= Duration::from_secs(u64::from(self.expiry))
            })
    }

    /// Sends `m` now, or keeps it for later, as the session's state allows.
    fn deliver(&mut self, client_id: &str, mut m: Message, now: Instant) {
        if m.expired(now) {
            return;
        }
        let Some(online) = &self.online else {
            if self.expiry > 0 && m.qos != QoS::AtMostOnce {
                self.queue(client_id, m);
            }
            return;
        };
        if online
            .maximum_packet
            .is_some_and(|max| super::codec::v5::publish_size(&m, now) > max)
        {
            debug!(
                "embedded broker: {client_id}: a message on {} is larger than it takes; not sent to it",
                m.topic
            );
            return;
        }
        if m.qos != QoS::AtMostOnce {
            let window = online.receive_maximum.min(limits::INFLIGHT);
            if self.inflight.len() >= window {
                if window == limits::INFLIGHT {
                    warn!(
                        "embedded broker: {client_id} has {} messages unacknowledged; closing its connection",
                        self.inflight.len()
                    );
                    online.kick.kick(Reason::QuotaExceeded);
                }
                // Flow control (MQTT 5.0 §4.9): it waits for an acknowledgement.
                self.queue(client_id, m);
                return;
            }
            m.pkid = self.next_pkid();
            // Kept until acknowledged: if the client is too slow to take it now, it goes again
            // when the client returns.
            self.inflight.insert(m.pkid, Inflight::Sent(m.clone()));
        }
        if let Some(online) = &self.online {
            online.send(Outbound::Publish(m));
        }
    }

    /// Sends what waits, as far as the client's receive maximum allows.
    fn drain(&mut self, client_id: &str, now: Instant) {
        let Some(online) = &self.online else {
            return;
        };
        let window = online.receive_maximum.min(limits::INFLIGHT);
        while self.inflight.len() < window {
            let Some(m) = self.queued.pop_front() else {
                break;
            };
            self.queued_bytes -= m.size();
            self.deliver(client_id, m, now);
        }
    }

    fn queue(&mut self, client_id: &str, m: Message) {
        self.queued_bytes += m.size();
        self.queued.push_back(m);
        let mut dropped = 0;
        while self.queued.len() > limits::QUEUED || self.queued_bytes > limits::QUEUED_BYTES {
            let Some(old) = self.queued.pop_front() else {
                break;
            };
            self.queued_bytes -= old.size();
            dropped += 1;
        }
        if dropped > 0 {
            debug!("embedded broker: {client_id} has a full queue: {dropped} oldest message(s) dropped");
        }
    }

    /// The most any of its subscriptions matching `m` grants it, with their identifiers and
    /// whether one keeps the retain flag; None when none matches.
    fn matching(&self, m: &Message, own: bool) -> Option<(QoS, Vec<u32>, bool)> {
        let mut granted: Option<QoS> = None;
        let (mut ids, mut keep_retain) = (Vec::new(), false);
        for s in &self.subscriptions {
            if (own && s.no_local) || !topic_matches(&s.filter, &m.topic) {
                continue;
            }
            granted = Some(granted.map_or(s.qos, |g| max_qos(g, s.qos)));
            ids.extend(s.id);
            keep_retain |= s.retain_as_published;
        }
        granted.map(|q| (q, ids, keep_retain))
    }
}

/// Retained messages, bounded in count and bytes.
#[derive(Default)]
struct Retained {
    messages: HashMap<String, Message>,
    bytes: usize,
}

impl Retained {
    /// Keeps (or, for an empty payload, clears) `m` as its topic's retained message. False when
    /// there is no room for it.
    fn store(&mut self, m: &Message) -> bool {
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
    fn matching(&mut self, filter: &str, now: Instant) -> Vec<Message> {
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

/// Everything the broker keeps; one lock guards it.
#[derive(Default)]
pub struct State {
    sessions: HashMap<String, Session>,
    retained: Retained,
    /// Last wills waiting for their delay (MQTT 5.0 §3.1.3.2.2), by client id: at most one per
    /// session, so bounded by [`limits::SESSIONS`].
    wills: HashMap<String, (Instant, Message)>,
    next_connection: u64,
    /// Connections open (including ones still logging in).
    pub connections: usize,
}

/// How a connection attempt ended.
pub enum Admission {
    /// Logged in: this connection's id.
    Accepted { connection: u64 },
    /// Refused (the CONNACK saying so is queued).
    Refused,
}

mod check;

impl State {
    /// Registers a logged-in client: takes over an existing connection with the same id (the
    /// old one is closed), resumes or starts its session, and queues the CONNACK followed by
    /// what the session owes it. `assigned` is the id given to a 5.0 client that sent none.
    pub fn connect(
        &mut self,
        client_id: &str,
        clean_start: bool,
        expiry: u32,
        online: Online,
        assigned: bool,
        now: Instant,
    ) -> Admission {
        if self.sessions.get(client_id).is_some_and(|s| s.expired(now)) {
            self.end_session(client_id, now);
        }
        let exists = self.sessions.contains_key(client_id);
        if !exists && self.sessions.len() >= limits::SESSIONS {
            warn!(
                "embedded broker: {client_id} refused: {} sessions are kept already",
                limits::SESSIONS
            );
            online.send(Outbound::ConnAck {
                code: ConnectCode::Unavailable,
                session_present: false,
                assigned_client_id: None,
            });
            return Admission::Refused;
        }
        // Back before its will's delay ran out: the will is not published (§3.1.3.2.2).
        self.wills.remove(client_id);
        self.next_connection += 1;
        let connection = self.next_connection;
        let online = Online {
            connection,
            ..online
        };
        let session = self.sessions.entry(client_id.to_string()).or_default();
        if let Some(old) = session.online.take() {
            debug!("embedded broker: {client_id} connected again: closing its older connection");
            old.kick.kick(Reason::SessionTakenOver);
        }
        if clean_start {
            *session = Session::default();
        }
        let present = exists && !clean_start;
        session.expiry = expiry;
        session.gone_since = None;
        online.send(Outbound::ConnAck {
            code: ConnectCode::Accepted,
            session_present: present,
            assigned_client_id: assigned.then(|| client_id.to_string()),
        });
        // Unacknowledged messages again, with DUP, under their packet ids; then what waited.
        for (&pkid, inflight) in &session.inflight {
            online.send(match inflight {
                Inflight::Sent(m) => Outbound::Publish(Message {
                    dup: true,
                    ..m.clone()
                }),
                Inflight::Released => Outbound::PubRel(pkid),
            });
        }
        session.online = Some(online);
        session.drain(client_id, now);
        Admission::Accepted { connection }
    }

    /// The connection ended: the session waits for its expiry, or goes now when it has none.
    pub fn disconnect(&mut self, client_id: &str, connection: u64, now: Instant) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        if session
            .online
            .as_ref()
            .is_none_or(|o| o.connection != connection)
        {
            // Taken over: the session is the newer connection's now.
            return;
        }
        session.online = None;
        session.gone_since = Some(now);
        if session.expiry == 0 {
            self.end_session(client_id, now);
        }
    }

    /// MQTT 5.0: a DISCONNECT that sets a new session expiry interval. A session that had none
    /// may not be given one (§3.14.2.2.2): false then, a protocol error.
    pub fn set_expiry(&mut self, client_id: &str, expiry: u32) -> bool {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return true;
        };
        if session.expiry == 0 && expiry != 0 {
            return false;
        }
        session.expiry = expiry;
        true
    }

    /// A session is over: it goes, and a will waiting for it is published now.
    fn end_session(&mut self, client_id: &str, now: Instant) {
        self.sessions.remove(client_id);
        if let Some((_, will)) = self.wills.remove(client_id) {
            self.route(will, None, now);
        }
    }

    /// A connection ended without DISCONNECT: its will is published after its delay, or when
    /// its session ends if that is sooner (§3.1.2.5).
    pub fn will(&mut self, client_id: &str, will: Message, delay: u32, now: Instant) {
        let kept = self.sessions.get(client_id).map(|s| s.expiry);
        match kept {
            Some(expiry) if delay > 0 && expiry > 0 => {
                let wait = Duration::from_secs(u64::from(delay.min(expiry)));
                self.wills.insert(client_id.to_string(), (now + wait, will));
            }
            _ => self.route(will, None, now),
        }
    }

    /// What is due at `now`: delayed wills are published, and sessions whose expiry has run out
    /// are dropped.
    pub fn tick(&mut self, now: Instant) {
        let due: Vec<String> = self
            .wills
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some((_, will)) = self.wills.remove(&id) {
                self.route(will, None, now);
            }
        }
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.expired(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            debug!("embedded broker: {id}'s session expired");
            self.end_session(&id, now);
        }
    }

    /// Whether `connection` still serves `client_id` (it was not taken over).
    pub fn current(&self, client_id: &str, connection: u64) -> bool {
        self.sessions
            .get(client_id)
            .and_then(|s| s.online.as_ref())
            .is_some_and(|o| o.connection == connection)
    }

    /// Delivers `m` to every session with a matching subscription, at the lower of the two QoS
    /// levels, and keeps or clears it as its topic's retained message. `from` is the client
    /// that published it, for its no-local subscriptions.
    pub fn route(&mut self, mut m: Message, from: Option<&str>, now: Instant) {
        if m.expired(now) {
            return;
        }
        if m.retain && !self.retained.store(&m) {
            warn!(
                "embedded broker: no room to retain {} ({} bytes); delivered, not retained",
                m.topic,
                m.payload.len()
            );
        }
        m.dup = false;
        m.pkid = 0;
        for (client_id, session) in self.sessions.iter_mut() {
            let own = from == Some(client_id.as_str());
            if let Some((qos, ids, keep_retain)) = session.matching(&m, own) {
                let mut p = m.clone();
                p.qos = min_qos(p.qos, qos);
                p.subscription_ids = ids;
                // Live delivery carries retain 0, unless asked to keep it (MQTT 5.0 §3.3.1.3).
                p.retain = m.retain && keep_retain;
                session.deliver(client_id, p, now);
            }
        }
    }

    /// Adds subscriptions; sends the SUBACK, then the retained messages they bring.
    pub fn subscribe(
        &mut self,
        client_id: &str,
        pkid: u16,
        filters: Vec<Subscription>,
        id: Option<u32>,
        now: Instant,
    ) {
        let State {
            sessions, retained, ..
        } = self;
        let Some(session) = sessions.get_mut(client_id) else {
            return;
        };
        let mut codes = Vec::with_capacity(filters.len());
        let mut matched = Vec::new();
        for s in filters {
            let known = session.subscriptions.iter().any(|k| k.filter == s.filter);
            if s.filter.starts_with("$share/") {
                codes.push(SubscribeCode::SharedNotSupported);
                continue;
            }
            if !valid_filter(&s.filter) {
                codes.push(SubscribeCode::FilterInvalid);
                continue;
            }
            if !known && session.subscriptions.len() >= limits::SUBSCRIPTIONS {
                codes.push(SubscribeCode::QuotaExceeded);
                continue;
            }
            let qos = min_qos(s.qos, QoS::ExactlyOnce);
            session.subscriptions.retain(|k| k.filter != s.filter);
            session.subscriptions.push(Subscribed {
                filter: s.filter.clone(),
                qos,
                no_local: s.no_local,
                retain_as_published: s.retain_as_published,
                id,
            });
            codes.push(SubscribeCode::Granted(qos));
            let send = match s.retain_handling {
                RetainHandling::OnSubscribe => true,
                RetainHandling::OnNewSubscription => !known,
                RetainHandling::Never => false,
            };
            if send {
                for mut m in retained.matching(&s.filter, now) {
                    m.qos = min_qos(m.qos, qos);
                    m.subscription_ids = id.into_iter().collect();
                    matched.push(m);
                }
            }
        }
        // The SUBACK goes before the retained messages it brings.
        if let Some(online) = &session.online {
            online.send(Outbound::SubAck { pkid, codes });
        }
        for m in matched {
            session.deliver(client_id, m, now);
        }
    }

    /// Removes subscriptions, and answers with which of them there were.
    pub fn unsubscribe(&mut self, client_id: &str, pkid: u16, filters: &[String]) {
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        let existed = filters
            .iter()
            .map(|f| s.subscriptions.iter().any(|k| k.filter == *f))
            .collect();
        s.subscriptions.retain(|k| !filters.contains(&k.filter));
        if let Some(online) = &s.online {
            online.send(Outbound::UnsubAck { pkid, existed });
        }
    }

    /// The client acknowledged a QoS 1 message (PUBACK) or completed a QoS 2 one (PUBCOMP):
    /// room for what waits.
    pub fn acknowledged(&mut self, client_id: &str, pkid: u16, now: Instant) {
        if let Some(s) = self.sessions.get_mut(client_id) {
            s.inflight.remove(&pkid);
            s.drain(client_id, now);
        }
    }

    /// The client received a QoS 2 message (PUBREC): the broker releases it (PUBREL).
    pub fn received(&mut self, client_id: &str, pkid: u16) {
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        if let Some(m) = s.inflight.get_mut(&pkid) {
            *m = Inflight::Released;
        }
        if let Some(online) = &s.online {
            online.send(Outbound::PubRel(pkid));
        }
    }

    /// A QoS 2 message from the client: whether it is new (and so to be routed), None when the
    /// client has more than the receive maximum unreleased (its connection is then closed).
    pub fn incoming_qos2(&mut self, client_id: &str, pkid: u16) -> Option<bool> {
        let s = self.sessions.get_mut(client_id)?;
        if s.unreleased.contains(&pkid) {
            return Some(false);
        }
        if s.unreleased.len() >= usize::from(limits::RECEIVE_MAXIMUM) {
            return None;
        }
        s.unreleased.insert(pkid);
        Some(true)
    }

    /// The client released a QoS 2 message (PUBREL): completed (PUBCOMP).
    pub fn released(&mut self, client_id: &str, pkid: u16) {
        if let Some(s) = self.sessions.get_mut(client_id) {
            s.unreleased.remove(&pkid);
        }
        self.send(client_id, Outbound::PubComp(pkid));
    }

    /// Queues a packet for `client_id`'s connection (acknowledgements, pings).
    pub fn send(&self, client_id: &str, packet: Outbound) {
        if let Some(online) = self.sessions.get(client_id).and_then(|s| s.online.as_ref()) {
            online.send(packet);
        }
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn retained(&self) -> usize {
        self.retained.messages.len()
    }
}

pub fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) {
        a
    } else {
        b
    }
}

fn max_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) >= (b as u8) {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests;

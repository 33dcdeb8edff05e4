//! What the embedded broker keeps: sessions (a client's subscriptions and the messages owed to
//! it) and retained messages. Every one of them is bounded, since anyone who can reach the port
//! may try to fill them.
//!
//! A session outlives its connection when the client asked for that (clean session 0, MQTT 3.1.1
//! §3.1.2.4): its subscriptions stay, QoS 1 messages for it are queued while it is away, and the
//! QoS 1 messages it had not acknowledged are sent again, with DUP set, when it returns. A
//! sleeping camera relies on exactly this to get the wake sent while it slept.
//!
//! Sending never waits: a packet goes into the connection's queue or, when that queue is full
//! (the client does not read), the connection is told to close.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rumqttc::mqttbytes::QoS;
use rumqttc::{ConnAck, ConnectReturnCode, Packet, Publish, SubAck, SubscribeReasonCode};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, warn};

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
    /// QoS 1 messages sent to one client and not yet acknowledged.
    pub const INFLIGHT: usize = 1000;
    /// QoS 1 messages kept for one absent client, and their bytes; the oldest go first.
    pub const QUEUED: usize = 1000;
    pub const QUEUED_BYTES: usize = 32 << 20;
}

/// The connection a session is being served on.
pub struct Online {
    pub connection: u64,
    pub tx: mpsc::Sender<Packet>,
    /// Bytes in `tx` not yet written (the writer takes them off).
    pub pending: Arc<AtomicUsize>,
    /// Told when the connection must close (taken over, or not reading).
    pub kick: Arc<Notify>,
}

impl Online {
    /// Queues `packet`; false when the client is too far behind (and is then told to go).
    fn send(&self, packet: Packet) -> bool {
        let size = packet_size(&packet);
        let pending = self.pending.load(Ordering::Acquire);
        let fits = pending + size <= limits::CLIENT_QUEUE_BYTES || pending == 0;
        if fits && self.tx.try_send(packet).is_ok() {
            self.pending.fetch_add(size, Ordering::AcqRel);
            return true;
        }
        self.kick.notify_one();
        false
    }
}

/// What a packet costs in a client's queue.
pub fn packet_size(packet: &Packet) -> usize {
    match packet {
        Packet::Publish(p) => p.topic.len() + p.payload.len() + 8,
        _ => 8,
    }
}

#[derive(Default)]
struct Session {
    subscriptions: Vec<(String, QoS)>,
    /// Kept after the client leaves (it connected with clean session 0).
    persistent: bool,
    online: Option<Online>,
    /// QoS 1 messages sent and not acknowledged, by packet id.
    inflight: BTreeMap<u16, Publish>,
    /// QoS 1 messages that came while the client was away.
    queued: VecDeque<Publish>,
    queued_bytes: usize,
    last_pkid: u16,
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

    /// Sends `p` now, or keeps it for later, as the session's state allows.
    fn deliver(&mut self, client_id: &str, mut p: Publish) {
        if self.online.is_none() {
            if self.persistent && p.qos != QoS::AtMostOnce {
                self.queue(client_id, p);
            }
            return;
        }
        if p.qos != QoS::AtMostOnce {
            if self.inflight.len() >= limits::INFLIGHT {
                warn!(
                    "embedded broker: {client_id} has {} messages unacknowledged; closing its connection",
                    self.inflight.len()
                );
                if let Some(online) = &self.online {
                    online.kick.notify_one();
                }
                self.queue(client_id, p);
                return;
            }
            p.pkid = self.next_pkid();
            // Kept until acknowledged: if the client is too slow to take it now, it goes again
            // when the client returns.
            self.inflight.insert(p.pkid, p.clone());
        }
        if let Some(online) = &self.online {
            online.send(Packet::Publish(p));
        }
    }

    fn queue(&mut self, client_id: &str, p: Publish) {
        self.queued_bytes += p.payload.len();
        self.queued.push_back(p);
        let mut dropped = 0;
        while self.queued.len() > limits::QUEUED || self.queued_bytes > limits::QUEUED_BYTES {
            let Some(old) = self.queued.pop_front() else {
                break;
            };
            self.queued_bytes -= old.payload.len();
            dropped += 1;
        }
        if dropped > 0 {
            debug!("embedded broker: {client_id} is away with a full queue: {dropped} oldest message(s) dropped");
        }
    }
}

/// Retained messages, bounded in count and bytes.
#[derive(Default)]
struct Retained {
    messages: HashMap<String, Publish>,
    bytes: usize,
}

impl Retained {
    /// Keeps (or, for an empty payload, clears) `p` as its topic's retained message. False when
    /// there is no room for it.
    fn store(&mut self, p: &Publish) -> bool {
        let size = |p: &Publish| p.topic.len() + p.payload.len();
        if p.payload.is_empty() {
            if let Some(old) = self.messages.remove(&p.topic) {
                self.bytes -= size(&old);
            }
            return true;
        }
        let old = self.messages.get(&p.topic).map_or(0, size);
        let new_topic = old == 0;
        if (new_topic && self.messages.len() >= limits::RETAINED)
            || self.bytes - old + size(p) > limits::RETAINED_BYTES
        {
            return false;
        }
        self.bytes = self.bytes - old + size(p);
        self.messages.insert(p.topic.clone(), p.clone());
        true
    }
}

/// Everything the broker keeps; one lock guards it.
#[derive(Default)]
pub struct State {
    sessions: HashMap<String, Session>,
    retained: Retained,
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

impl State {
    /// The counts kept beside the data agree with it, and every bound holds: checked after each
    /// packet by the property tests and the fuzz target.
    #[doc(hidden)]
    pub fn check(&self) -> Result<(), String> {
        let retained = &self.retained;
        let bytes: usize = retained
            .messages
            .values()
            .map(|p| p.topic.len() + p.payload.len())
            .sum();
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
        if let Some(p) = retained.messages.values().find(|p| p.payload.is_empty()) {
            return Err(format!("retained: an empty message kept on {}", p.topic));
        }
        if self.sessions.len() > limits::SESSIONS {
            return Err(format!("{} sessions", self.sessions.len()));
        }
        for (id, s) in &self.sessions {
            let queued: usize = s.queued.iter().map(|p| p.payload.len()).sum();
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
            {
                return Err(format!("{id}: over a limit"));
            }
            let mut filters: Vec<&str> = s.subscriptions.iter().map(|(f, _)| f.as_str()).collect();
            filters.sort_unstable();
            filters.dedup();
            if filters.len() != s.subscriptions.len() {
                return Err(format!("{id}: a filter subscribed twice"));
            }
        }
        Ok(())
    }

    /// Registers a logged-in client: takes over an existing connection with the same id (MQTT
    /// 3.1.1 §3.1.4-2: the old one is closed), resumes or starts its session, and queues the
    /// CONNACK followed by what the session owes it.
    pub fn connect(&mut self, client_id: &str, clean_session: bool, online: Online) -> Admission {
        let exists = self.sessions.contains_key(client_id);
        if !exists && self.sessions.len() >= limits::SESSIONS {
            warn!(
                "embedded broker: {client_id} refused: {} sessions are kept already",
                limits::SESSIONS
            );
            online.send(Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::ServiceUnavailable,
                false,
            )));
            return Admission::Refused;
        }
        self.next_connection += 1;
        let connection = self.next_connection;
        let online = Online {
            connection,
            ..online
        };
        let session = self.sessions.entry(client_id.to_string()).or_default();
        if let Some(old) = session.online.take() {
            debug!("embedded broker: {client_id} connected again: closing its older connection");
            old.kick.notify_one();
        }
        if clean_session {
            *session = Session::default();
        }
        let present = !clean_session && session.persistent;
        session.persistent = !clean_session;
        online.send(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            present,
        )));
        // Unacknowledged messages again, with DUP, under their packet ids; then what came while
        // the client was away.
        for p in session.inflight.values() {
            let mut p = p.clone();
            p.dup = true;
            online.send(Packet::Publish(p));
        }
        session.online = Some(online);
        let queued: Vec<Publish> = session.queued.drain(..).collect();
        session.queued_bytes = 0;
        for p in queued {
            session.deliver(client_id, p);
        }
        Admission::Accepted { connection }
    }

    /// The connection ended: a clean session goes with it, a persistent one waits for the client.
    pub fn disconnect(&mut self, client_id: &str, connection: u64) {
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
        if !session.persistent {
            self.sessions.remove(client_id);
        }
    }

    /// Whether `connection` still serves `client_id` (it was not taken over).
    pub fn current(&self, client_id: &str, connection: u64) -> bool {
        self.sessions
            .get(client_id)
            .and_then(|s| s.online.as_ref())
            .is_some_and(|o| o.connection == connection)
    }

    /// Delivers `publish` to every session with a matching subscription, at the lower of the two
    /// QoS levels, and keeps or clears it as its topic's retained message.
    pub fn route(&mut self, mut publish: Publish) {
        if publish.retain && !self.retained.store(&publish) {
            warn!(
                "embedded broker: no room to retain {} ({} bytes); delivered, not retained",
                publish.topic,
                publish.payload.len()
            );
        }
        // Live delivery carries retain = 0 (MQTT 3.1.1, 3.3.1.3).
        publish.retain = false;
        publish.dup = false;
        for (client_id, session) in self.sessions.iter_mut() {
            let granted = session
                .subscriptions
                .iter()
                .filter(|(f, _)| topic_matches(f, &publish.topic))
                .map(|(_, q)| *q)
                .max_by_key(|q| *q as u8);
            if let Some(q) = granted {
                let mut p = publish.clone();
                p.qos = min_qos(p.qos, q);
                session.deliver(client_id, p);
            }
        }
    }

    /// Adds subscriptions; sends the SUBACK, then the retained messages they match.
    pub fn subscribe(&mut self, client_id: &str, pkid: u16, filters: Vec<(String, QoS)>) {
        let State {
            sessions, retained, ..
        } = self;
        let Some(session) = sessions.get_mut(client_id) else {
            return;
        };
        let mut codes = Vec::with_capacity(filters.len());
        let mut matched = Vec::new();
        for (filter, qos) in filters {
            let known = session.subscriptions.iter().any(|(f, _)| *f == filter);
            if !valid_filter(&filter)
                || (!known && session.subscriptions.len() >= limits::SUBSCRIPTIONS)
            {
                codes.push(SubscribeReasonCode::Failure);
                continue;
            }
            let qos = min_qos(qos, QoS::AtLeastOnce);
            session.subscriptions.retain(|(f, _)| *f != filter);
            session.subscriptions.push((filter.clone(), qos));
            codes.push(SubscribeReasonCode::Success(qos));
            for p in retained
                .messages
                .values()
                .filter(|p| topic_matches(&filter, &p.topic))
            {
                let mut p = p.clone();
                p.qos = min_qos(p.qos, qos);
                matched.push(p);
            }
        }
        // The SUBACK goes before the retained messages it brings.
        if let Some(online) = &session.online {
            online.send(Packet::SubAck(SubAck::new(pkid, codes)));
        }
        for p in matched {
            session.deliver(client_id, p);
        }
    }

    pub fn unsubscribe(&mut self, client_id: &str, filters: &[String]) {
        if let Some(s) = self.sessions.get_mut(client_id) {
            s.subscriptions.retain(|(f, _)| !filters.contains(f));
        }
    }

    /// The client acknowledged a QoS 1 message.
    pub fn acknowledged(&mut self, client_id: &str, pkid: u16) {
        if let Some(s) = self.sessions.get_mut(client_id) {
            s.inflight.remove(&pkid);
        }
    }

    /// Queues a packet for `client_id`'s connection (acknowledgements, pings).
    pub fn send(&self, client_id: &str, packet: Packet) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's end of a connection: what the broker queued for it, and its kick signal.
    struct Client {
        rx: mpsc::Receiver<Packet>,
        kick: Arc<Notify>,
    }

    fn online(capacity: usize) -> (Online, Client) {
        let (tx, rx) = mpsc::channel(capacity);
        let kick = Arc::new(Notify::new());
        let online = Online {
            connection: 0,
            tx,
            pending: Arc::new(AtomicUsize::new(0)),
            kick: kick.clone(),
        };
        (online, Client { rx, kick })
    }

    fn connect(state: &mut State, id: &str, clean: bool) -> (u64, Client) {
        let (o, c) = online(limits::CLIENT_QUEUE);
        match state.connect(id, clean, o) {
            Admission::Accepted { connection } => (connection, c),
            Admission::Refused => panic!("{id} refused"),
        }
    }

    impl Client {
        fn packets(&mut self) -> Vec<Packet> {
            std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
        }

        fn kicked(&self) -> bool {
            // A permit is stored by notify_one when nobody waits: it completes at once.
            let notified = self.kick.notified();
            tokio::pin!(notified);
            notified.as_mut().enable()
        }
    }

    fn publish(topic: &str, qos: QoS, payload: &str) -> Publish {
        Publish::new(topic, qos, payload.as_bytes().to_vec())
    }

    fn publishes(packets: &[Packet]) -> Vec<&Publish> {
        packets
            .iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    fn connack(packets: &[Packet]) -> &ConnAck {
        match &packets[0] {
            Packet::ConnAck(c) => c,
            other => panic!("first packet {other:?}"),
        }
    }

    #[test]
    fn a_second_connection_with_the_same_id_closes_the_first() {
        let mut state = State::default();
        let (first, a) = connect(&mut state, "bridge", true);
        let (second, _b) = connect(&mut state, "bridge", true);
        assert!(a.kicked());
        assert!(!state.current("bridge", first));
        assert!(state.current("bridge", second));
        // The first one's end does not end the second's session.
        state.disconnect("bridge", first);
        assert!(state.current("bridge", second));
    }

    #[test]
    fn a_persistent_session_keeps_subscriptions_and_queues_qos1_while_away() {
        let mut state = State::default();
        let (conn, mut cam) = connect(&mut state, "cam", false);
        state.subscribe("cam", 1, vec![("wake/+".into(), QoS::AtLeastOnce)]);
        assert!(!connack(&cam.packets()).session_present);
        state.disconnect("cam", conn);

        state.route(publish("wake/1", QoS::AtLeastOnce, "wake"));
        state.route(publish("wake/1", QoS::AtMostOnce, "not kept"));
        let (_, mut cam) = connect(&mut state, "cam", false);
        let packets = cam.packets();
        assert!(connack(&packets).session_present);
        let got = publishes(&packets);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload.as_ref(), b"wake");
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
    }

    #[test]
    fn an_unacknowledged_message_is_sent_again_with_dup_on_return() {
        let mut state = State::default();
        let (conn, mut cam) = connect(&mut state, "cam", false);
        state.subscribe("cam", 1, vec![("t".into(), QoS::AtLeastOnce)]);
        state.route(publish("t", QoS::AtLeastOnce, "one"));
        state.route(publish("t", QoS::AtLeastOnce, "two"));
        let first: Vec<Publish> = publishes(&cam.packets()).into_iter().cloned().collect();
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|p| !p.dup));
        state.acknowledged("cam", first[0].pkid);
        state.disconnect("cam", conn);

        let (_, mut cam) = connect(&mut state, "cam", false);
        let packets = cam.packets();
        let again = publishes(&packets);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].payload.as_ref(), b"two");
        assert_eq!(again[0].pkid, first[1].pkid);
        assert!(again[0].dup);
    }

    #[test]
    fn a_clean_session_forgets_everything() {
        let mut state = State::default();
        let (conn, _cam) = connect(&mut state, "cam", false);
        state.subscribe("cam", 1, vec![("t".into(), QoS::AtLeastOnce)]);
        state.disconnect("cam", conn);
        state.route(publish("t", QoS::AtLeastOnce, "one"));
        let (conn, mut cam) = connect(&mut state, "cam", true);
        let packets = cam.packets();
        assert!(!connack(&packets).session_present);
        assert!(publishes(&packets).is_empty());
        state.disconnect("cam", conn);
        assert_eq!(state.sessions(), 0);
    }

    #[test]
    fn an_absent_clients_queue_keeps_the_newest_within_its_bounds() {
        let mut state = State::default();
        let (conn, _cam) = connect(&mut state, "cam", false);
        state.subscribe("cam", 1, vec![("t".into(), QoS::AtLeastOnce)]);
        state.disconnect("cam", conn);
        for i in 0..limits::QUEUED + 500 {
            state.route(publish("t", QoS::AtLeastOnce, &i.to_string()));
        }
        let (_, mut cam) = connect(&mut state, "cam", false);
        let packets = cam.packets();
        let got = publishes(&packets);
        assert_eq!(got.len(), limits::QUEUED);
        assert_eq!(got[0].payload.as_ref(), b"500");
    }

    /// README (The embedded broker): "1,000 unacknowledged and 1,000 queued messages per client
    /// (32 MB; the oldest go first)", by its numbers.
    #[test]
    fn a_client_has_at_most_1000_unacknowledged_messages_then_is_told_to_go() {
        let mut state = State::default();
        let (_, mut cam) = connect(&mut state, "cam", false);
        state.subscribe("cam", 1, vec![("t".into(), QoS::AtLeastOnce)]);
        cam.packets();
        for i in 0..1000 {
            state.route(publish("t", QoS::AtLeastOnce, &i.to_string()));
        }
        assert_eq!(publishes(&cam.packets()).len(), 1000);
        assert!(!cam.kicked(), "1,000 unacknowledged are allowed");
        state.route(publish("t", QoS::AtLeastOnce, "1000"));
        assert!(
            publishes(&cam.packets()).is_empty(),
            "the 1,001st is kept, not sent"
        );
        assert!(cam.kicked());
    }

    #[test]
    fn an_absent_clients_queue_holds_1000_messages_or_32_mb_the_newest_kept() {
        let mut state = State::default();
        let (conn, _cam) = connect(&mut state, "cam", false);
        state.subscribe("cam", 1, vec![("t".into(), QoS::AtLeastOnce)]);
        state.disconnect("cam", conn);
        // By count: 1,200 small messages, the newest 1,000 kept.
        for i in 0..1200 {
            state.route(publish("t", QoS::AtLeastOnce, &i.to_string()));
        }
        let (conn, mut cam) = connect(&mut state, "cam", false);
        let got = cam.packets();
        let got = publishes(&got);
        assert_eq!(got.len(), 1000);
        assert_eq!(got[0].payload.as_ref(), b"200");
        for p in &got {
            state.acknowledged("cam", p.pkid);
        }
        state.disconnect("cam", conn);
        // By bytes: 40 messages of 1 MiB, the newest 32 kept (32 MiB).
        let mb = "x".repeat(1 << 20);
        for i in 0..40 {
            state.route(publish(
                "t",
                QoS::AtLeastOnce,
                &format!("{i:02}{mb}")[..1 << 20],
            ));
        }
        let queued = &state.sessions["cam"].queued;
        assert_eq!(queued.len(), 32);
        assert_eq!(state.sessions["cam"].queued_bytes, 32 << 20);
        assert_eq!(&queued[0].payload[..2], b"08");
    }

    #[test]
    fn a_client_that_does_not_read_is_told_to_go() {
        let mut state = State::default();
        let (o, slow) = online(4);
        let Admission::Accepted { .. } = state.connect("slow", true, o) else {
            panic!()
        };
        state.subscribe("slow", 1, vec![("t".into(), QoS::AtMostOnce)]);
        assert!(!slow.kicked());
        for _ in 0..4 {
            state.route(publish("t", QoS::AtMostOnce, "x"));
        }
        assert!(slow.kicked());
    }

    #[test]
    fn subscriptions_per_client_are_bounded() {
        let mut state = State::default();
        let (_, mut c) = connect(&mut state, "c", true);
        let filters = (0..limits::SUBSCRIPTIONS + 1)
            .map(|i| (format!("t/{i}"), QoS::AtMostOnce))
            .collect();
        state.subscribe("c", 7, filters);
        let packets = c.packets();
        let Packet::SubAck(ack) = &packets[1] else {
            panic!("{packets:?}")
        };
        assert_eq!(ack.pkid, 7);
        assert_eq!(ack.return_codes.len(), limits::SUBSCRIPTIONS + 1);
        assert_eq!(ack.return_codes.last(), Some(&SubscribeReasonCode::Failure));
        assert!(ack.return_codes[..limits::SUBSCRIPTIONS]
            .iter()
            .all(|c| matches!(c, SubscribeReasonCode::Success(_))));
    }

    #[test]
    fn retained_messages_are_bounded_in_count_and_bytes() {
        let mut state = State::default();
        for i in 0..limits::RETAINED + 10 {
            let mut p = publish(&format!("r/{i}"), QoS::AtMostOnce, "x");
            p.retain = true;
            state.route(p);
        }
        assert_eq!(state.retained(), limits::RETAINED);
        // An existing topic may still be updated, and an empty payload clears one.
        let mut p = publish("r/0", QoS::AtMostOnce, "y");
        p.retain = true;
        state.route(p);
        let mut p = publish("r/1", QoS::AtMostOnce, "");
        p.retain = true;
        state.route(p);
        assert_eq!(state.retained(), limits::RETAINED - 1);

        let mut state = State::default();
        let big = "x".repeat(32 << 20);
        for i in 0..10 {
            let mut p = publish(&format!("big/{i}"), QoS::AtMostOnce, &big);
            p.retain = true;
            state.route(p);
        }
        assert_eq!(state.retained(), limits::RETAINED_BYTES / (32 << 20) - 1);
    }

    #[test]
    fn at_most_1024_sessions_are_kept_and_a_known_client_still_comes_back() {
        let mut state = State::default();
        let mut clients = Vec::new();
        for i in 0..limits::SESSIONS {
            clients.push(connect(&mut state, &format!("camera-{i}"), false));
        }
        let (o, mut c) = online(limits::CLIENT_QUEUE);
        assert!(matches!(
            state.connect("one-too-many", false, o),
            Admission::Refused
        ));
        assert_eq!(
            c.packets(),
            [Packet::ConnAck(ConnAck::new(
                ConnectReturnCode::ServiceUnavailable,
                false
            ))]
        );
        // A client whose session is kept is not a new session.
        let (_, mut again) = connect(&mut state, "camera-7", false);
        assert!(matches!(
            again.packets().first(),
            Some(Packet::ConnAck(ack)) if ack.code == ConnectReturnCode::Success && ack.session_present
        ));
    }

    #[test]
    fn a_client_is_told_to_go_past_10_000_packets_or_16_mb_waiting_for_it() {
        // Packets: the 10,000th fits, the next does not.
        let (o, c) = online(limits::CLIENT_QUEUE);
        for i in 0..limits::CLIENT_QUEUE {
            assert!(o.send(Packet::PingResp), "packet {i}");
        }
        assert!(!c.kicked());
        assert!(!o.send(Packet::PingResp));
        assert!(c.kicked());

        // Bytes: publishes of 1 MB each (with their topic and overhead) up to 16 MB.
        let (o, c) = online(limits::CLIENT_QUEUE);
        let mb = "x".repeat((1 << 20) - 8 - "big".len());
        let one = publish("big", QoS::AtMostOnce, &mb);
        assert_eq!(packet_size(&Packet::Publish(one.clone())), 1 << 20);
        for i in 0..16 {
            assert!(o.send(Packet::Publish(one.clone())), "MB {i}");
        }
        assert!(!c.kicked());
        assert!(!o.send(Packet::Publish(one)));
        assert!(c.kicked());

        // One packet larger than the whole budget still goes to a client that has nothing
        // waiting: a snapshot over 16 MB is not a reason to disconnect anyone.
        let (o, c) = online(limits::CLIENT_QUEUE);
        assert!(o.send(Packet::Publish(publish(
            "huge",
            QoS::AtMostOnce,
            &"x".repeat(20 << 20)
        ))));
        assert!(!c.kicked());
    }
}

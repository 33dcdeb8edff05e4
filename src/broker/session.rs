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

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rumqttc::mqttbytes::QoS;
use tracing::{debug, warn};

use super::codec::{ConnectCode, Outbound, Reason, RetainHandling, SubscribeCode, Subscription};
use super::message::Message;
use crate::topic::valid_filter;

mod client;
pub mod limits;
mod online;
mod retained;

use client::{Inflight, Session, Subscribed};
pub use online::{packet_size, Kick, Online};
use retained::Retained;

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

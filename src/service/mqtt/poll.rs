//! The poller: drives one connection's rumqttc event loop, hands what it reads to the main loop,
//! and reconnects (at once after a lost connection, then backing off while the broker refuses).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rumqttc::{
    ConnectionError, Event, EventLoop, Outgoing as RumqttOutgoing, Packet, QoS, StateError,
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::backoff::{entropy, Backoff};
use super::{Incoming, Shared};

/// What the poller needs to know for its logs and its retries.
pub(super) struct PollContext {
    pub(super) name: &'static str,
    pub(super) url: String,
    /// What TLS trusts, for an error that says where to look.
    pub(super) trust: String,
    /// TLS on port 443 without ALPN: a broker closing the connection there is likely AWS IoT
    /// Core, which takes MQTT on 443 only with `x-amzn-mqtt-ca`.
    pub(super) hint_alpn: bool,
    pub(super) max_retry: Duration,
    pub(super) persistent: bool,
    pub(super) max_incoming: usize,
}

/// The size of a packet refused for being larger than the connection reads.
fn oversized(e: &ConnectionError) -> Option<usize> {
    match e {
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(n),
        )) => Some(*n),
        _ => None,
    }
}

/// The poller's state between packets.
struct Poller {
    ctx: PollContext,
    shared: Arc<Shared>,
    backoff: Backoff,
    connected: bool,
    /// The last connection ended on an oversized packet: keep backing off until a clean one.
    refused_packet: bool,
}

/// Drives one connection's event loop and hands what it reads to the main loop.
///
/// A packet larger than `max_incoming` is refused by rumqttc before it is read, which closes the
/// connection (MQTT 3.1.1 has no other way to refuse one). Two things keep that from becoming a
/// loop: the reconnect waits as after a failed attempt (backing off up to `max_retry`), and a
/// persistent session is given up once, by connecting with a clean session, so the broker drops
/// the message it would otherwise redeliver to the bridge forever. A *retained* oversized message
/// is sent again at every subscription; the log names the size so the broker's owner can clear it.
pub(super) async fn poll(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Incoming>,
    ctx: PollContext,
    shared: Arc<Shared>,
) {
    let mut p = Poller {
        backoff: Backoff::new(ctx.max_retry),
        ctx,
        shared,
        connected: false,
        refused_packet: false,
    };
    loop {
        let incoming = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => p.on_connack(&mut eventloop),
            Ok(Event::Incoming(Packet::Publish(m))) => p.on_publish(m),
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                debug!("{}: subscribed", p.ctx.name);
                continue;
            }
            Ok(Event::Outgoing(RumqttOutgoing::Publish(_))) => {
                // Written and flushed: rumqttc flushes each request as it writes it.
                let mut outbox = p.shared.outbox.lock().expect("outbox");
                if outbox.tracks_writes() {
                    outbox.written();
                    drop(outbox);
                    p.shared.written.notify_waiters();
                }
                continue;
            }
            Ok(Event::Outgoing(RumqttOutgoing::Disconnect)) => {
                let _ = tx.send(Incoming::Closed).await;
                return;
            }
            Ok(_) => continue,
            Err(e) => {
                if tx.is_closed() {
                    return;
                }
                let (why, wait) = p.on_error(&e, &mut eventloop);
                let _ = tx.send(Incoming::Disconnected(why)).await;
                if let Some(wait) = wait {
                    tokio::time::sleep(wait).await;
                }
                continue;
            }
        };
        // Waits while the main loop is not taking more (backpressure); gone means stopping.
        if tx.send(incoming).await.is_err() {
            return;
        }
    }
}

impl Poller {
    fn on_connack(&mut self, eventloop: &mut EventLoop) -> Incoming {
        let PollContext { name, url, .. } = &self.ctx;
        info!("{name}: connected to {url}");
        if self.ctx.persistent && eventloop.mqtt_options.clean_session() {
            // This connection dropped the session; the next ones keep one again.
            eventloop.mqtt_options.set_clean_session(false);
            info!("{name}: new session started; what the broker held for the bridge was dropped with the oversized message");
        }
        let dropped = {
            let mut outbox = self.shared.outbox.lock().expect("outbox");
            outbox.set_connected(true, std::time::Instant::now());
            outbox.take_dropped()
        };
        if dropped > 0 {
            info!("{name}: {dropped} state message(s) superseded by newer ones while disconnected were not sent");
        }
        self.connected = true;
        if !self.refused_packet {
            self.backoff.reset();
        }
        Incoming::Connected
    }

    fn on_publish(&mut self, p: rumqttc::Publish) -> Incoming {
        self.refused_packet = false;
        // Subscriptions are QoS 1 at most, so a broker never sends QoS 2.
        let ack = (self.ctx.persistent && p.qos != QoS::AtMostOnce).then_some(p.pkid);
        Incoming::Message {
            topic: p.topic,
            payload: p.payload,
            retain: p.retain,
            received: SystemTime::now(),
            ack,
        }
    }

    /// A connection lost or refused: logged, and what to tell the main loop; with how long to
    /// wait before the next attempt (none right after a lost connection).
    fn on_error(
        &mut self,
        e: &ConnectionError,
        eventloop: &mut EventLoop,
    ) -> (String, Option<Duration>) {
        {
            let mut outbox = self.shared.outbox.lock().expect("outbox");
            outbox.set_connected(false, std::time::Instant::now());
            outbox.lost();
        }
        self.shared.written.notify_waiters();
        let PollContext {
            name,
            url,
            persistent,
            max_incoming,
            ..
        } = &self.ctx;
        let why = describe(e, &self.ctx.trust, self.ctx.hint_alpn);
        let next = self.backoff.next.as_secs_f32();
        if let Some(size) = oversized(e) {
            let clean = if *persistent {
                " with a clean session, so the broker does not send it again"
            } else {
                ""
            };
            warn!(
                "{name}: {url} sent a {size}-byte message; the bridge reads at most \
                 {max_incoming} bytes (snapshot_max_bytes in its largest form) and refused \
                 it unread. Reconnecting in {next:.1}s{clean}"
            );
            if *persistent {
                eventloop.mqtt_options.set_clean_session(true);
            }
            self.refused_packet = true;
            self.connected = false;
        } else if self.connected {
            warn!("{name}: connection to {url} lost: {why}; reconnecting");
        } else {
            warn!("{name}: cannot connect to {url}: {why}; retrying in {next:.1}s");
        }
        let wait = (!self.connected).then(|| self.backoff.step(entropy()));
        self.connected = false;
        (why, wait)
    }
}

/// Errors in words a user can act on; never the credentials.
pub(super) fn describe(e: &ConnectionError, trust: &str, hint_alpn: bool) -> String {
    let why = describe_only(e, trust);
    let closed = ["reset", "closed", "eof", "broken pipe"]
        .iter()
        .any(|w| why.to_ascii_lowercase().contains(w));
    if hint_alpn && closed {
        format!(
            "{why} (the broker closed the connection: if it is AWS IoT Core, port 443 takes MQTT \
             only with `alpn: x-amzn-mqtt-ca`)"
        )
    } else {
        why
    }
}

fn describe_only(e: &ConnectionError, trust: &str) -> String {
    use rumqttc::ConnectReturnCode as C;
    match e {
        ConnectionError::ConnectionRefused(C::BadUserNamePassword)
        | ConnectionError::ConnectionRefused(C::NotAuthorized) => {
            "the broker refused the username or password (check mqtt.username and mqtt.password)"
                .into()
        }
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        ConnectionError::Io(io) => io.to_string(),
        _ if e.to_string().contains("CertificateRequired") => {
            "TLS: the broker asks for a client certificate; set client_cert and client_key".into()
        }
        ConnectionError::NetworkTimeout => "no answer from the broker (network timeout)".into(),
        // Over wss:// the same TLS failures come through the WebSocket layer.
        ConnectionError::Tls(_) | ConnectionError::Websocket(_) => {
            let e = e.to_string();
            if e.contains("UnknownIssuer") || e.contains("invalid peer certificate") {
                format!("TLS: the broker's certificate is not signed by {trust} ({e}); set ca_file to the CA that signed it")
            } else if e.contains("NotValidForName") {
                format!("TLS: the broker's certificate is not for this host name ({e}); use the name (or IP) the certificate was made for in the url")
            } else if e.starts_with("Websocket") {
                e
            } else {
                format!("TLS: {e}")
            }
        }
        other => other.to_string(),
    }
}

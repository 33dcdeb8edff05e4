//! One broker connection: a rumqttc client whose event loop runs in its own task.
//!
//! The main loop must never block on a broker: it hands outgoing work to a channel and reads
//! incoming events from another. Two tasks per connection keep that promise: the *poller* drives
//! rumqttc's event loop (reconnecting with capped exponential backoff and jitter), the *sender*
//! feeds it requests in order. A broker outage therefore stalls neither the other connection nor
//! the core.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rumqttc::{
    AsyncClient, LastWill, MqttOptions, QoS, SubscribeFilter, TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tracing::debug;

use std::sync::Mutex;

use tokio::sync::Notify;

use super::outbox::{Outbox, Outgoing};
use poll::{poll, PollContext};

mod backoff;
mod poll;
mod tls;
use crate::bridge::{Publish, Qos};
use crate::config::BrokerConfig;

/// What a connection reports to the main loop.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The broker accepted the connection (first time, or after an outage).
    Connected,
    /// The connection dropped; the poller is already trying again.
    Disconnected(String),
    Message {
        topic: String,
        payload: Bytes,
        retain: bool,
        received: SystemTime,
        /// The packet id to acknowledge once what the message caused is out (see
        /// [`crate::bridge::Ack`]); `None` when the broker needs no acknowledgement from us.
        /// (rumqttc would acknowledge as it reads; the camera link turns that off with
        /// `set_manual_acks` when its session is persistent.)
        ack: Option<u16>,
    },
    /// Our DISCONNECT went out: the connection is closed for good.
    Closed,
}

/// The outbox shared by the main loop (which fills it) and the sender task (which empties it
/// into rumqttc as fast as the broker takes it).
struct Shared {
    outbox: Mutex<Outbox>,
    ready: Notify,
    /// The poller saw a publish written, or the connection lost: for acknowledgements on another
    /// connection that wait for this one (see [`Written`]).
    written: Notify,
}

/// How far one connection's outbox has been written, for another connection's acknowledgements
/// to wait on: with a camera broker of its own, what a camera message caused goes to Home
/// Assistant's broker, and its acknowledgement to the camera broker must not go first.
#[derive(Clone)]
pub(crate) struct Written(Arc<Shared>);

impl Written {
    /// A mark for everything queued on the connection so far.
    pub(crate) fn mark(&self) -> u64 {
        self.0.outbox.lock().expect("outbox").queued_until()
    }

    /// Until everything queued before `mark` is written (or dropped, or gone with a lost
    /// connection), or the broker has been away for [`super::outbox::ACKS_WAIT_AT_MOST`].
    async fn until(&self, mark: u64) {
        loop {
            let written = self.0.written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            let wait_until = {
                let outbox = self.0.outbox.lock().expect("outbox");
                if outbox.ack_may_go(mark, std::time::Instant::now()) {
                    return;
                }
                outbox.acks_wait_until()
            };
            match wait_until {
                Some(t) => {
                    let t = tokio::time::Instant::from_std(t);
                    let _ = tokio::time::timeout_at(t, written).await;
                }
                None => written.await,
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{name}: cannot read {path}: {source}")]
    CaFile {
        name: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{name}: {path} holds no usable PEM certificate")]
    CaFileEmpty { name: &'static str, path: String },
    #[error("{name}: cannot read the client certificate {path}: {source}")]
    ClientCert {
        name: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{name}: the client certificate {path} holds no usable PEM certificate")]
    ClientCertEmpty { name: &'static str, path: String },
    #[error("{name}: cannot read the client key {path}: {source}")]
    ClientKey {
        name: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{name}: {path} holds no usable PEM private key")]
    NoKey { name: &'static str, path: String },
    #[error("{name}: no CA certificates found on this system for mqtts://; install ca-certificates or set ca_file")]
    NoSystemRoots { name: &'static str },
    #[error("{name}: TLS setup failed: {0}", source)]
    Tls {
        name: &'static str,
        source: rustls::Error,
    },
}

/// Settings of one connection beyond the broker's own.
pub(crate) struct Options {
    /// For logs: "Home Assistant broker", "camera broker".
    pub name: &'static str,
    /// Retained message the broker publishes if the bridge vanishes.
    pub last_will: Option<(String, Bytes)>,
    /// Keep a persistent session (so QoS 1 messages wait for us during an outage), and
    /// acknowledge each only once handled (so those read when the bridge stops wait too).
    pub persistent: bool,
    /// Larger packets are refused before they are read (see [`poll`] for what follows).
    pub max_incoming: usize,
    pub max_outgoing: usize,
    /// Bytes of messages kept for the broker while it is away (see [`Outbox`]).
    pub outbox_limit: usize,
    /// The connection whose writes acknowledgements given with a mark wait for.
    pub acks_wait_for: Option<Written>,
}

pub(crate) struct Connection {
    pub name: &'static str,
    pub url: String,
    shared: Arc<Shared>,
    /// Bounded: while the main loop does not read, the poller waits, rumqttc stops reading the
    /// socket, and TCP makes the broker hold its messages (see [`INCOMING_QUEUE`]).
    pub incoming: mpsc::Receiver<Incoming>,
}

/// Messages read from a broker but not yet taken by the main loop. Small: each may be as large as
/// the largest snapshot allowed, and past this the broker, not the bridge, keeps them.
const INCOMING_QUEUE: usize = 8;

impl Connection {
    pub(crate) fn open(broker: &BrokerConfig, opts: Options) -> Result<Connection, SetupError> {
        let mqtt = mqtt_options(broker, &opts)?;
        // Requests wait in our own outbox, which counts their bytes, not in rumqttc's channel,
        // which does not: with 64 places, 64 snapshots (up to 128 MB) could wait there unseen
        // while a broker is stuck. Four keep the event loop fed.
        let (client, mut eventloop) = AsyncClient::new(mqtt, 4);
        eventloop.network_options.set_tcp_nodelay(true);

        let (in_tx, in_rx) = mpsc::channel(INCOMING_QUEUE);
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(opts.outbox_limit)),
            ready: Notify::new(),
            written: Notify::new(),
        });
        let url = broker.url.to_string();
        let trust = match &broker.ca_file {
            Some(p) => format!("the CA in {}", p.display()),
            None => "the system's CA certificates".to_string(),
        };
        let ctx = PollContext {
            name: opts.name,
            url: url.clone(),
            trust,
            hint_alpn: broker.url.tls
                && broker.url.websocket.is_none()
                && broker.url.port == 443
                && broker.alpn.is_empty(),
            max_retry: broker.reconnect_max,
            persistent: opts.persistent,
            max_incoming: opts.max_incoming,
        };
        tokio::spawn(poll(eventloop, in_tx, ctx, shared.clone()));
        tokio::spawn(send(client, shared.clone(), opts.acks_wait_for, opts.name));
        Ok(Connection {
            name: opts.name,
            url,
            shared,
            incoming: in_rx,
        })
    }

    pub(crate) fn publish(&self, p: Publish) {
        self.push(Outgoing::Publish(p));
    }

    pub(crate) fn subscribe(&self, filters: Vec<String>) {
        self.push(Outgoing::Subscribe(filters));
    }

    pub(crate) fn unsubscribe(&self, filters: Vec<String>) {
        self.push(Outgoing::Unsubscribe(filters));
    }

    /// Acknowledges a message, after what is queued before it (see [`Outbox`]); with `after`, also
    /// after what was queued before that mark on the connection this one's acknowledgements wait
    /// for ([`Options::acks_wait_for`]).
    pub(crate) fn ack(&self, packet_id: u16, after: Option<u64>) {
        self.push(Outgoing::Ack { packet_id, after });
    }

    /// How far this connection's outbox has been written, for another's acknowledgements. Writes
    /// are tracked from then on (with one broker, nothing asks, and they are not).
    pub(crate) fn written(&self) -> Written {
        self.shared.outbox.lock().expect("outbox").track_writes();
        Written(self.shared.clone())
    }

    /// Sends DISCONNECT after everything queued before it.
    pub(crate) fn disconnect(&self) {
        self.push(Outgoing::Disconnect);
    }

    /// Bytes waiting to go out: the shell stops taking work from the core while this is high.
    pub(crate) fn backlog(&self) -> usize {
        self.shared.outbox.lock().expect("outbox").bytes()
    }

    fn push(&self, o: Outgoing) {
        self.shared.outbox.lock().expect("outbox").push(o);
        self.shared.ready.notify_one();
    }

    /// Waits (at most `timeout`) for the connection to close after [`Connection::disconnect`].
    pub(crate) async fn closed(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Ok(Some(Incoming::Closed)) | Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// rumqttc's options for `broker`: address, session, login, last will and transport.
fn mqtt_options(broker: &BrokerConfig, opts: &Options) -> Result<MqttOptions, SetupError> {
    // Over WebSocket rumqttc takes the whole URL (scheme, host, port and path) as the address.
    let address = match &broker.url.websocket {
        Some(_) => broker.url.to_string(),
        None => broker.url.host.clone(),
    };
    let mut mqtt = MqttOptions::new(broker.client_id.clone(), address, broker.url.port);
    mqtt.set_keep_alive(Duration::from_secs(30));
    mqtt.set_clean_session(!opts.persistent);
    mqtt.set_manual_acks(opts.persistent);
    mqtt.set_max_packet_size(opts.max_incoming, opts.max_outgoing);
    if let (Some(user), password) = (&broker.username, &broker.password) {
        mqtt.set_credentials(
            user.clone(),
            password.as_ref().map_or("", |p| p.expose()).to_string(),
        );
    }
    if let Some((topic, payload)) = &opts.last_will {
        mqtt.set_last_will(LastWill::new(
            topic.clone(),
            payload.to_vec(),
            QoS::AtLeastOnce,
            true,
        ));
    }
    match (broker.url.tls, broker.url.websocket.is_some()) {
        (false, false) => {}
        (false, true) => {
            mqtt.set_transport(Transport::Ws);
        }
        (true, websocket) => {
            let tls = TlsConfiguration::Rustls(Arc::new(tls::tls_config(broker, opts.name)?));
            mqtt.set_transport(if websocket {
                Transport::wss_with_config(tls)
            } else {
                Transport::tls_with_config(tls)
            });
        }
    }
    Ok(mqtt)
}

fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    }
}

async fn send(
    client: AsyncClient,
    shared: Arc<Shared>,
    acks_wait_for: Option<Written>,
    name: &'static str,
) {
    loop {
        let next = shared
            .outbox
            .lock()
            .expect("outbox")
            .pop(std::time::Instant::now());
        let Some(o) = next else {
            shared.ready.notified().await;
            continue;
        };
        let result = match o {
            Outgoing::Publish(p) => {
                client
                    .publish_bytes(p.topic, qos(p.qos), p.retain, p.payload)
                    .await
            }
            Outgoing::Subscribe(filters) => {
                let filters = filters
                    .into_iter()
                    .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce));
                client.subscribe_many(filters).await
            }
            Outgoing::Unsubscribe(filters) => {
                let mut r = Ok(());
                for f in filters {
                    r = r.and(client.unsubscribe(f).await);
                }
                r
            }
            Outgoing::Ack { packet_id, after } => {
                if let (Some(mark), Some(other)) = (after, &acks_wait_for) {
                    other.until(mark).await;
                }
                let mut message = rumqttc::Publish::new("", QoS::AtLeastOnce, Vec::<u8>::new());
                message.pkid = packet_id;
                client.ack(&message).await
            }
            Outgoing::Disconnect => {
                let _ = client.disconnect().await;
                return;
            }
        };
        if let Err(e) = result {
            // Only when the event loop is gone, which happens at shutdown.
            debug!("{name}: request not queued: {e}");
            return;
        }
    }
}

#[cfg(test)]
mod tests;

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
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions,
    Outgoing as RumqttOutgoing, Packet, QoS, StateError, SubscribeFilter, TlsConfiguration,
    Transport,
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use std::sync::Mutex;

use tokio::sync::Notify;

use super::outbox::{Outbox, Outgoing};
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
        /// To hand back to [`Connection::ack`] once the message is handled; `None` when the
        /// broker needs no acknowledgement from us.
        ack: Option<Ack>,
    },
    /// Our DISCONNECT went out: the connection is closed for good.
    Closed,
}

/// A QoS 1 message of a persistent session, read but not yet acknowledged. The broker keeps it
/// until [`Connection::ack`] sends the acknowledgement, and sends it again on the next connection
/// if the bridge stops first: a message read just before a shutdown is handled after the
/// restart, not lost. (rumqttc would acknowledge as it reads; the camera link turns that off
/// with `set_manual_acks` when its session is persistent.)
#[derive(Debug)]
#[must_use = "an unacknowledged message stays with the broker and takes one of its in-flight places"]
pub(crate) struct Ack(u16);

/// The outbox shared by the main loop (which fills it) and the sender task (which empties it
/// into rumqttc as fast as the broker takes it).
struct Shared {
    outbox: Mutex<Outbox>,
    ready: Notify,
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
                let tls = TlsConfiguration::Rustls(Arc::new(tls_config(broker, opts.name)?));
                mqtt.set_transport(if websocket {
                    Transport::wss_with_config(tls)
                } else {
                    Transport::tls_with_config(tls)
                });
            }
        }
        // Requests wait in our own outbox, which counts their bytes, not in rumqttc's channel,
        // which does not: with 64 places, 64 snapshots (up to 128 MB) could wait there unseen
        // while a broker is stuck. Four keep the event loop fed.
        let (client, mut eventloop) = AsyncClient::new(mqtt, 4);
        eventloop.network_options.set_tcp_nodelay(true);

        let (in_tx, in_rx) = mpsc::channel(INCOMING_QUEUE);
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(opts.outbox_limit)),
            ready: Notify::new(),
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
            max_retry: broker.reconnect_max,
            persistent: opts.persistent,
            max_incoming: opts.max_incoming,
        };
        tokio::spawn(poll(eventloop, in_tx, ctx, shared.clone()));
        tokio::spawn(send(client, shared.clone(), opts.name));
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

    /// Acknowledges a message the core has handled. Acknowledgements go out ahead of what is
    /// queued (see [`Outbox`]), in the order they were given.
    pub(crate) fn ack(&self, ack: Ack) {
        self.push(Outgoing::Ack(ack.0));
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

fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    }
}

async fn send(client: AsyncClient, shared: Arc<Shared>, name: &'static str) {
    loop {
        let next = shared.outbox.lock().expect("outbox").pop();
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
            Outgoing::Ack(pkid) => {
                let mut message = rumqttc::Publish::new("", QoS::AtLeastOnce, Vec::<u8>::new());
                message.pkid = pkid;
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

/// What the poller needs to know for its logs and its retries.
struct PollContext {
    name: &'static str,
    url: String,
    /// What TLS trusts, for an error that says where to look.
    trust: String,
    max_retry: Duration,
    persistent: bool,
    max_incoming: usize,
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

/// Drives one connection's event loop and hands what it reads to the main loop.
///
/// A packet larger than `max_incoming` is refused by rumqttc before it is read, which closes the
/// connection (MQTT 3.1.1 has no other way to refuse one). Two things keep that from becoming a
/// loop: the reconnect waits as after a failed attempt (backing off up to `max_retry`), and a
/// persistent session is given up once, by connecting with a clean session, so the broker drops
/// the message it would otherwise redeliver to the bridge forever. A *retained* oversized message
/// is sent again at every subscription; the log names the size so the broker's owner can clear it.
async fn poll(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Incoming>,
    ctx: PollContext,
    shared: Arc<Shared>,
) {
    let PollContext {
        name,
        url,
        trust,
        max_retry,
        persistent,
        max_incoming,
    } = ctx;
    let mut backoff = Backoff::new(max_retry);
    let mut connected = false;
    // The last connection ended on an oversized packet: keep backing off until a clean one.
    let mut refused_packet = false;
    loop {
        let incoming = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                info!("{name}: connected to {url}");
                if persistent && eventloop.mqtt_options.clean_session() {
                    // This connection dropped the session; the next ones keep one again.
                    eventloop.mqtt_options.set_clean_session(false);
                    info!("{name}: new session started; what the broker held for the bridge was dropped with the oversized message");
                }
                let dropped = {
                    let mut outbox = shared.outbox.lock().expect("outbox");
                    outbox.set_connected(true);
                    outbox.take_dropped()
                };
                if dropped > 0 {
                    info!("{name}: {dropped} state message(s) superseded by newer ones while disconnected were not sent");
                }
                connected = true;
                if !refused_packet {
                    backoff.reset();
                }
                Incoming::Connected
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                refused_packet = false;
                // Subscriptions are QoS 1 at most, so a broker never sends QoS 2.
                let ack = (persistent && p.qos != QoS::AtMostOnce).then_some(Ack(p.pkid));
                Incoming::Message {
                    topic: p.topic,
                    payload: p.payload,
                    retain: p.retain,
                    received: SystemTime::now(),
                    ack,
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                debug!("{name}: subscribed");
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
                shared.outbox.lock().expect("outbox").set_connected(false);
                let why = describe(&e, &trust);
                if let Some(size) = oversized(&e) {
                    warn!(
                        "{name}: {url} sent a {size}-byte message; the bridge reads at most \
                         {max_incoming} bytes (snapshot_max_bytes in its largest form) and refused \
                         it unread. Reconnecting in {:.1}s{}",
                        backoff.next.as_secs_f32(),
                        if persistent {
                            " with a clean session, so the broker does not send it again"
                        } else {
                            ""
                        }
                    );
                    if persistent {
                        eventloop.mqtt_options.set_clean_session(true);
                    }
                    refused_packet = true;
                    connected = false;
                } else if connected {
                    warn!("{name}: connection to {url} lost: {why}; reconnecting");
                } else {
                    warn!(
                        "{name}: cannot connect to {url}: {why}; retrying in {:.1}s",
                        backoff.next.as_secs_f32()
                    );
                }
                let _ = tx.send(Incoming::Disconnected(why)).await;
                if !connected {
                    tokio::time::sleep(backoff.step(entropy())).await;
                }
                connected = false;
                continue;
            }
        };
        // Waits while the main loop is not taking more (backpressure); gone means stopping.
        if tx.send(incoming).await.is_err() {
            return;
        }
    }
}

/// The waits between connection attempts: 0.5 s, doubling up to `max` (`reconnect_max`), each
/// made up to 25% longer at random so that many bridges (or both connections) do not retry in
/// step after a broker restart.
struct Backoff {
    /// The wait before the next attempt, before jitter.
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);

    fn new(max: Duration) -> Backoff {
        Backoff {
            next: Self::FIRST.min(max),
            max,
        }
    }

    /// A connection worked: the next failure starts from the first wait again.
    fn reset(&mut self) {
        self.next = Self::FIRST.min(self.max);
    }

    /// The wait now, with `entropy` (any number) choosing its jitter; the next one doubles.
    fn step(&mut self, entropy: u32) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(self.max);
        d + d.mul_f64(f64::from(entropy % 1000) / 4000.0)
    }
}

/// Cheap randomness for the jitter: the clock's nanoseconds.
fn entropy() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos())
}

/// Errors in words a user can act on; never the credentials.
fn describe(e: &ConnectionError, trust: &str) -> String {
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

fn tls_config(
    broker: &BrokerConfig,
    name: &'static str,
) -> Result<rustls::ClientConfig, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match &broker.ca_file {
        Some(path) => {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|source| SetupError::CaFile {
                name,
                path: shown.clone(),
                source,
            })?;
            let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
                .filter_map(Result::ok)
                .collect();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(SetupError::CaFileEmpty { name, path: shown });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(SetupError::NoSystemRoots { name });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| SetupError::Tls { name, source })?
        .with_root_certificates(roots);
    match (&broker.client_cert, &broker.client_key) {
        (Some(cert), Some(key)) => {
            let path = cert.display().to_string();
            let pem = std::fs::read(cert).map_err(|source| SetupError::ClientCert {
                name,
                path: path.clone(),
                source,
            })?;
            let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
                .filter_map(Result::ok)
                .collect();
            if certs.is_empty() {
                return Err(SetupError::ClientCertEmpty { name, path });
            }
            let path = key.display().to_string();
            let pem = std::fs::read(key).map_err(|source| SetupError::ClientKey {
                name,
                path: path.clone(),
                source,
            })?;
            let key_der = rustls_pemfile::private_key(&mut pem.as_slice())
                .ok()
                .flatten()
                .ok_or(SetupError::NoKey { name, path })?;
            builder
                .with_client_auth_cert(certs, key_der)
                .map_err(|source| SetupError::Tls { name, source })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

// The integration tests' own Mosquitto: one way to run one.
#[cfg(test)]
#[path = "../../tests/common/mosquitto.rs"]
#[allow(unreachable_pub)]
mod test_mosquitto;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_from_half_a_second_doubling_to_the_cap_with_up_to_25_percent_more() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let waits: Vec<Duration> = (0..6).map(|_| b.step(0)).collect();
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(waits, ms(&[500, 1000, 2000, 4000, 5000, 5000]));
        // The jitter adds 0 to 24.975% of the wait, never more.
        let mut b = Backoff::new(Duration::from_secs(60));
        assert_eq!(b.step(999), Duration::from_micros(624_875));
        assert_eq!(b.step(1_000_000_500), Duration::from_millis(1125));
        for e in [0, 1, 499, 999, u32::MAX] {
            let w = Backoff::new(Duration::from_secs(60)).step(e);
            assert!(
                w >= Duration::from_millis(500) && w < Duration::from_millis(625),
                "{w:?}"
            );
        }
        // A connection that worked starts the sequence again.
        b.reset();
        assert_eq!(b.step(0), Duration::from_millis(500));
        // A cap under half a second is the wait from the start.
        assert_eq!(
            Backoff::new(Duration::from_millis(200)).step(0),
            Duration::from_millis(200)
        );
    }

    use super::test_mosquitto::Mosquitto;

    fn open(port: u16, client_id: &str, persistent: bool) -> Connection {
        let broker = BrokerConfig {
            url: format!("mqtt://127.0.0.1:{port}").parse().unwrap(),
            username: None,
            password: None,
            password_file: None,
            client_id: client_id.into(),
            ca_file: None,
            client_cert: None,
            client_key: None,
            reconnect_max: Duration::from_secs(1),
        };
        let opts = Options {
            name: "camera broker",
            last_will: None,
            persistent,
            max_incoming: 1 << 20,
            max_outgoing: 1 << 20,
            outbox_limit: 1 << 20,
        };
        Connection::open(&broker, opts).unwrap()
    }

    /// The next message, skipping connection events; within 10 s.
    async fn next_message(c: &mut Connection) -> (String, Option<Ack>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, c.incoming.recv()).await {
                Ok(Some(Incoming::Message { topic, ack, .. })) => return (topic, ack),
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!("no message within 10 s"),
            }
        }
    }

    fn qos1(topic: &str) -> Publish {
        Publish {
            link: crate::bridge::Link::Camera,
            topic: topic.into(),
            payload: Bytes::from_static(b"{}"),
            qos: Qos::AtLeastOnce,
            retain: false,
        }
    }

    #[tokio::test]
    async fn a_message_read_but_not_yet_handled_when_the_bridge_stops_comes_again_after_it() {
        let broker = Mosquitto::start();
        let camera = open(broker.port, "test-camera", false);
        let mut first = open(broker.port, "test-bridge", true);
        first.subscribe(vec!["4GSolarCam/#".into()]);
        // Subscribed once a message sent after the SUBSCRIBE comes back.
        let mut tries = 0;
        loop {
            camera.publish(qos1("4GSolarCam/ready"));
            let wait = tokio::time::timeout(Duration::from_millis(200), next_message(&mut first));
            if let Ok((_, ack)) = wait.await {
                first.ack(ack.expect("a QoS 1 message of a persistent session has an Ack"));
                break;
            }
            tries += 1;
            assert!(tries < 50, "never subscribed");
        }
        // Three camera messages, read but not yet handled.
        for t in [
            "4GSolarCam/Status",
            "4GSolarCam/Alarm",
            "4GSolarCam/Snapshot",
        ] {
            camera.publish(qos1(t));
        }
        let mut read = Vec::new();
        while read.len() < 3 {
            let (topic, ack) = next_message(&mut first).await;
            // An earlier try's "ready", come back after the first.
            if topic == "4GSolarCam/ready" {
                first.ack(ack.unwrap());
                continue;
            }
            read.push((topic, ack.unwrap()));
        }
        // The status is handled and acknowledged; the bridge stops before it handles the rest.
        let mut read = read.into_iter();
        let (status, ack) = read.next().unwrap();
        assert_eq!(status, "4GSolarCam/Status");
        first.ack(ack);
        drop(read);
        first.disconnect();
        assert!(first.closed(Duration::from_secs(10)).await);

        // The same session again: the broker sends the two it holds, not the status.
        let mut second = open(broker.port, "test-bridge", true);
        let mut again = Vec::new();
        for _ in 0..2 {
            let (topic, ack) = next_message(&mut second).await;
            second.ack(ack.unwrap());
            again.push(topic);
        }
        assert_eq!(again, ["4GSolarCam/Alarm", "4GSolarCam/Snapshot"]);
        // And nothing else is waiting: the next message is a new one.
        camera.publish(qos1("4GSolarCam/Status/5CC5638AE24C"));
        let (next, _) = next_message(&mut second).await;
        assert_eq!(next, "4GSolarCam/Status/5CC5638AE24C");
    }
}

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
    Outgoing as RumqttOutgoing, Packet, QoS, SubscribeFilter, TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use std::sync::Mutex;

use tokio::sync::Notify;

use crate::bridge::{Publish, Qos};
use crate::config::BrokerConfig;
use crate::outbox::{Outbox, Outgoing};

/// What a connection reports to the main loop.
#[derive(Debug)]
pub enum Incoming {
    /// The broker accepted the connection (first time, or after an outage).
    Connected,
    /// The connection dropped; the poller is already trying again.
    Disconnected(String),
    Message {
        topic: String,
        payload: Bytes,
        retain: bool,
        received: SystemTime,
    },
    /// Our DISCONNECT went out: the connection is closed for good.
    Closed,
}

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
pub struct Options {
    /// For logs: "Home Assistant broker", "camera broker".
    pub name: &'static str,
    /// Retained message the broker publishes if the bridge vanishes.
    pub last_will: Option<(String, Bytes)>,
    /// Keep a persistent session (so QoS 1 messages wait for us during an outage).
    pub persistent: bool,
    pub max_incoming: usize,
    pub max_outgoing: usize,
    /// Bytes of messages kept for the broker while it is away (see [`Outbox`]).
    pub outbox_limit: usize,
}

pub struct Connection {
    pub name: &'static str,
    pub url: String,
    shared: Arc<Shared>,
    pub incoming: mpsc::UnboundedReceiver<Incoming>,
}

impl Connection {
    pub fn open(broker: &BrokerConfig, opts: Options) -> Result<Connection, SetupError> {
        let mut mqtt = MqttOptions::new(
            broker.client_id.clone(),
            broker.url.host.clone(),
            broker.url.port,
        );
        mqtt.set_keep_alive(Duration::from_secs(30));
        mqtt.set_clean_session(!opts.persistent);
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
        if broker.url.tls {
            mqtt.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(tls_config(broker, opts.name)?),
            )));
        }
        // Requests wait in our own channel, not rumqttc's; a small one keeps memory flat.
        let (client, mut eventloop) = AsyncClient::new(mqtt, 64);
        eventloop.network_options.set_tcp_nodelay(true);

        let (in_tx, in_rx) = mpsc::unbounded_channel();
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

    pub fn publish(&self, p: Publish) {
        self.push(Outgoing::Publish(p));
    }

    pub fn subscribe(&self, filters: Vec<String>) {
        self.push(Outgoing::Subscribe(filters));
    }

    pub fn unsubscribe(&self, filters: Vec<String>) {
        self.push(Outgoing::Unsubscribe(filters));
    }

    /// Sends DISCONNECT after everything queued before it.
    pub fn disconnect(&self) {
        self.push(Outgoing::Disconnect);
    }

    /// Bytes waiting to go out: the shell stops taking work from the core while this is high.
    pub fn backlog(&self) -> usize {
        self.shared.outbox.lock().expect("outbox").bytes()
    }

    fn push(&self, o: Outgoing) {
        self.shared.outbox.lock().expect("outbox").push(o);
        self.shared.ready.notify_one();
    }

    /// Waits (at most `timeout`) for the connection to close after [`Connection::disconnect`].
    pub async fn closed(&mut self, timeout: Duration) -> bool {
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
}

async fn poll(
    mut eventloop: EventLoop,
    tx: mpsc::UnboundedSender<Incoming>,
    ctx: PollContext,
    shared: Arc<Shared>,
) {
    let PollContext {
        name,
        url,
        trust,
        max_retry,
    } = ctx;
    const FIRST_RETRY: Duration = Duration::from_millis(500);
    let mut retry = FIRST_RETRY;
    let mut connected = false;
    loop {
        let incoming = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                info!("{name}: connected to {url}");
                let dropped = {
                    let mut outbox = shared.outbox.lock().expect("outbox");
                    outbox.set_connected(true);
                    outbox.take_dropped()
                };
                if dropped > 0 {
                    info!("{name}: {dropped} state message(s) superseded by newer ones while disconnected were not sent");
                }
                connected = true;
                retry = FIRST_RETRY;
                Incoming::Connected
            }
            Ok(Event::Incoming(Packet::Publish(p))) => Incoming::Message {
                topic: p.topic,
                payload: p.payload,
                retain: p.retain,
                received: SystemTime::now(),
            },
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                debug!("{name}: subscribed");
                continue;
            }
            Ok(Event::Outgoing(RumqttOutgoing::Disconnect)) => {
                let _ = tx.send(Incoming::Closed);
                return;
            }
            Ok(_) => continue,
            Err(e) => {
                if tx.is_closed() {
                    return;
                }
                shared.outbox.lock().expect("outbox").set_connected(false);
                let why = describe(&e, &trust);
                if connected {
                    warn!("{name}: connection to {url} lost: {why}; reconnecting");
                } else {
                    warn!(
                        "{name}: cannot connect to {url}: {why}; retrying in {:.1}s",
                        retry.as_secs_f32()
                    );
                }
                let _ = tx.send(Incoming::Disconnected(why));
                if !connected {
                    tokio::time::sleep(jitter(retry)).await;
                    retry = (retry * 2).min(max_retry);
                }
                connected = false;
                continue;
            }
        };
        if tx.send(incoming).is_err() {
            return;
        }
    }
}

/// Adds up to 25% so that many bridges (or both connections) do not retry in step.
fn jitter(d: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d + d.mul_f64(f64::from(nanos % 1000) / 4000.0)
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
        ConnectionError::NetworkTimeout => "no answer from the broker (network timeout)".into(),
        ConnectionError::Tls(e) => {
            let e = e.to_string();
            if e.contains("UnknownIssuer") || e.contains("invalid peer certificate") {
                format!("TLS: the broker's certificate is not signed by {trust} ({e}); set ca_file to the CA that signed it")
            } else if e.contains("NotValidForName") {
                format!("TLS: the broker's certificate is not for this host name ({e}); use the name (or IP) the certificate was made for in the url")
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
            let certs = read_pem(name, cert, |r| {
                rustls_pemfile::certs(r)
                    .filter_map(Result::ok)
                    .collect::<Vec<_>>()
            })?;
            if certs.is_empty() {
                return Err(SetupError::CaFileEmpty {
                    name,
                    path: cert.display().to_string(),
                });
            }
            let key_der = read_pem(name, key, |r| rustls_pemfile::private_key(r).ok().flatten())?
                .ok_or_else(|| SetupError::NoKey {
                name,
                path: key.display().to_string(),
            })?;
            builder
                .with_client_auth_cert(certs, key_der)
                .map_err(|source| SetupError::Tls { name, source })
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn read_pem<T>(
    name: &'static str,
    path: &std::path::Path,
    parse: impl FnOnce(&mut &[u8]) -> T,
) -> Result<T, SetupError> {
    let pem = std::fs::read(path).map_err(|source| SetupError::CaFile {
        name,
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse(&mut pem.as_slice()))
}

//! The embedded MQTT broker, for a first run or a Pi without Mosquitto.
//!
//! A small MQTT broker inside the bridge's process that speaks MQTT 5.0 and 3.1.1 side by side:
//! the cameras speak 3.1.1, Home Assistant 5.0 (only 5.0 from 2027.1), and messages cross
//! between the versions both ways. QoS 0, 1 and 2, `+`/`#` wildcards, retained messages, last
//! wills (with 5.0's will delay), keep-alive, sessions that outlive their connection (3.1.1's
//! clean session 0, 5.0's session expiry: subscriptions kept and messages queued while a client
//! is away, unacknowledged ones sent again with DUP), and an optional username/password. Of
//! MQTT 5.0 it also has message expiry, subscription options (no local, retain as published,
//! retain handling), subscription identifiers, topic aliases both ways, receive maximum and
//! maximum packet size, assigned client ids, reason codes, and the properties a publisher
//! gives passed to subscribers unchanged. Shared subscriptions and enhanced authentication it
//! does not offer, and says so (CONNACK, SUBACK 0x9E, CONNACK 0x8C). Nothing is kept on disk: a
//! restart of the bridge empties it, and the bridge then publishes discovery and states again.
//! For more (persistence, ACLs, TLS, bridging) run Mosquitto and point `mqtt.url` at it.
//!
//! It may face a network, so it is built like the bridge's camera side: bounded everywhere
//! ([`session::limits`]), a CONNECT read only up to a few KiB before the password is checked,
//! passwords compared in constant time, failed logins logged at most once per 10 s, no packet
//! ever printed, and a non-loopback address without a password refused unless anonymous access
//! is asked for.
//!
//! - [`crate::topic`] (outside it, since the configuration uses it too): topic names and filters.
//! - [`message`]: the one form a message takes inside, whichever version brought it.
//! - [`session`]: what it keeps (sessions, retained messages, delayed wills), each bounded.
//! - [`codec`]: the edge: each connection's packets, read and written in its own version.
//! - `connection`: one client's connection: its login, its packets applied to the state.
//!
//! Packets are read and written with rumqttc's own MQTT codecs (3.1.1 and 5.0), so this adds no
//! dependency.
//! (rumqttd, the embeddable broker of the same project, would add about 85 crates, among them
//! two versions of hyper, to what a Pi compiles.)

pub mod codec;
mod connection;
pub mod message;
pub mod session;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::digest::{digest, SHA256};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::logging::Throttle;
use crate::secret::Secret;

/// Largest packet taken from a logged-in client: room for a hex-dumped snapshot of several MB.
pub const MAX_PACKET: usize = 32 << 20;

/// A fixed header: the packet's type and flags, then up to 4 bytes of remaining length.
pub const MAX_FIXED_HEADER: usize = 5;

/// Largest CONNECT read: client id, will, username and password fit in far less.
pub const MAX_CONNECT: usize = 4 << 10;

/// Failed logins are logged at most once per this long; the others are counted into the next.
const FAILED_LOGINS_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// How often delayed wills and expired sessions are looked at: within MQTT 5.0's whole seconds.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSettings {
    pub listen: SocketAddr,
    /// When set, every client must log in with these.
    pub credentials: Option<(String, Secret)>,
    /// Without credentials, a `listen` address other than loopback is refused unless this is set.
    pub allow_anonymous: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "embedded broker: cannot listen on {addr}: the port is in use, most likely by another MQTT \
         broker. Use that broker instead: set `mqtt: {{url: mqtt://{addr}}}` in the configuration \
         (or choose another `mqtt.listen` port)"
    )]
    PortInUse { addr: SocketAddr },
    #[error("embedded broker: cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "embedded broker: {addr} is reachable from other machines and no username and password \
         are set, so anyone there could publish to Home Assistant and the cameras. Set \
         mqtt.username and mqtt.password_file, or `allow_anonymous: true` to allow it"
    )]
    OpenToNetwork { addr: SocketAddr },
}

/// A running embedded broker; it stops when the runtime does.
pub struct Broker {
    pub addr: SocketAddr,
}

impl Broker {
    /// Binds the port (failing clearly if it is taken) and serves clients in the background.
    pub async fn start(settings: BrokerSettings) -> Result<Broker, BrokerError> {
        let addr = settings.listen;
        if !addr.ip().is_loopback() && settings.credentials.is_none() && !settings.allow_anonymous {
            return Err(BrokerError::OpenToNetwork { addr });
        }
        let listener = TcpListener::bind(addr).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                BrokerError::PortInUse { addr }
            } else {
                BrokerError::Listen { addr, source }
            }
        })?;
        let addr = listener.local_addr().unwrap_or(addr);
        info!("embedded broker: listening on {addr}");
        let shared = Arc::new(Shared::new(settings));
        let ticking = shared.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            loop {
                every.tick().await;
                ticking
                    .state
                    .lock()
                    .expect("broker state")
                    .tick(Instant::now());
            }
        });
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let Some(slot) = Slot::take(&shared) else {
                            warn!(
                                "embedded broker: {peer} refused: {} connections open already",
                                session::limits::CONNECTIONS
                            );
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            connection::serve(shared, stream, peer).await;
                            drop(slot);
                        });
                    }
                    Err(e) => {
                        warn!("embedded broker: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(Broker { addr })
    }
}

/// One of the [`session::limits::CONNECTIONS`] places, given back when dropped.
struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Option<Slot> {
        let mut state = shared.state.lock().expect("broker state");
        if state.connections >= session::limits::CONNECTIONS {
            return None;
        }
        state.connections += 1;
        Some(Slot(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.state.lock().expect("broker state").connections -= 1;
    }
}

/// The one login the broker accepts, kept as SHA-256 digests: an attempt is hashed and compared
/// in constant time, both fields whatever the first gives, so how long a refusal takes says
/// nothing of either (`cargo bench --bench core -- login` prints the figures).
pub struct Credentials {
    user: [u8; 32],
    password: [u8; 32],
}

impl Credentials {
    pub fn new(user: &str, password: &Secret) -> Credentials {
        Credentials {
            user: sha256(user),
            password: sha256(password.expose()),
        }
    }

    /// Whether this username and password are the ones.
    pub fn accept(&self, user: &str, password: &str) -> bool {
        let u = same(&sha256(user), &self.user);
        let p = same(&sha256(password), &self.password);
        u & p
    }
}

struct Shared {
    /// When a login is required.
    login: Option<Credentials>,
    state: Mutex<session::State>,
    failed_logins: Mutex<Throttle>,
}

fn sha256(s: &str) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, s.as_bytes()).as_ref());
    out
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl Shared {
    fn new(settings: BrokerSettings) -> Shared {
        Shared {
            login: settings
                .credentials
                .as_ref()
                .map(|(user, password)| Credentials::new(user, password)),
            state: Mutex::new(session::State::default()),
            failed_logins: Mutex::new(Throttle::new(FAILED_LOGINS_LOGGED_EVERY)),
        }
    }

    /// Whether `connect` may log in. A refusal is logged with the peer and the username tried,
    /// never the password, and at most once per [`FAILED_LOGINS_LOGGED_EVERY`].
    fn logs_in(&self, connect: &codec::Connect, peer: SocketAddr) -> bool {
        let Some(credentials) = &self.login else {
            return true;
        };
        let ok = connect
            .login
            .as_ref()
            .is_some_and(|(user, password)| credentials.accept(user, password));
        if ok {
            return true;
        }
        let who = connect
            .login
            .as_ref()
            .map_or("(no username)".to_string(), |(user, _)| {
                format!("{:?}", user.chars().take(64).collect::<String>())
            });
        let message =
            format!("embedded broker: {peer} refused: wrong username or password for {who}");
        let line = self
            .failed_logins
            .lock()
            .expect("failed logins")
            .line(&message, Instant::now());
        if let Some(line) = line {
            warn!("{line}");
        }
        false
    }
}

/// For the fuzz target: `data` as the bytes a logged-in client sends, read packet by packet as
/// the connection handler reads them (MQTT 5.0 when the first byte's bit 1 is set, 3.1.1
/// otherwise) and carried out on a broker's state, with a second client subscribed to
/// everything and the clock moving a second a packet. Must return for any input, without a
/// panic, and with the broker's state consistent and within its bounds after every packet (it
/// panics, for the fuzzer and the property tests to report, when not).
#[doc(hidden)]
pub fn fuzz_client_bytes(data: &[u8]) {
    use codec::Version;
    let mut state = session::State::default();
    let mut now = Instant::now();
    let online = || {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        (session::Online::new(tx), rx)
    };
    let first = data.first().copied().unwrap_or(0);
    let (watcher, mut watcher_rx) = online();
    state.connect("watcher", false, codec::NEVER, watcher, false, now);
    state.subscribe(
        "watcher",
        1,
        vec![codec::Subscription::new("#", rumqttc::QoS::ExactlyOnce)],
        None,
        now,
    );
    let (client, mut client_rx) = online();
    let version = if first & 2 == 2 {
        Version::V5
    } else {
        Version::V4
    };
    let expiry = if first & 1 == 1 { 0 } else { 5 };
    state.connect("fuzz", first & 1 == 1, expiry, client, false, now);
    let mut client = connection::Client::new("fuzz", version);
    let mut buf = bytes::BytesMut::from(data.get(1..).unwrap_or_default());
    while let Ok(packet) = codec::read(version, &mut buf, MAX_CONNECT) {
        let step = connection::apply(&mut state, &mut client, packet, now);
        now += Duration::from_secs(1);
        state.tick(now);
        if let Err(e) = state.check() {
            panic!("the broker's state after a packet: {e}");
        }
        while watcher_rx.try_recv().is_ok() {}
        while client_rx.try_recv().is_ok() {}
        if !matches!(step, connection::Step::Go) {
            break;
        }
    }
}

#[cfg(test)]
mod tests;

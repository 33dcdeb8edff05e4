//! The embedded MQTT broker, for a first run or a Pi without Mosquitto.
//!
//! A small MQTT 3.1.1 broker inside the bridge's process: QoS 0 and 1 (QoS 2 is accepted and
//! delivered at QoS 1), `+`/`#` wildcards, retained messages, last wills, keep-alive, and an
//! optional username/password. It keeps no sessions across a client's reconnects and nothing on
//! disk: a restart of the bridge empties it, and the bridge then publishes discovery and states
//! again. For more (persistence, ACLs, TLS, bridging) run Mosquitto and point `mqtt.url` at it.
//!
//! Packets are read and written with rumqttc's own MQTT codec, so this adds no dependency.
//! (rumqttd, the embeddable broker of the same project, would add about 85 crates, among them
//! two versions of hyper, to what a Pi compiles.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::{self, QoS};
use rumqttc::{
    ConnAck, ConnectReturnCode, LastWill, Packet, PubAck, PubComp, PubRec, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::Secret;

/// Largest packet taken from a client: room for a hex-dumped snapshot of several MB.
pub const MAX_PACKET: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSettings {
    pub listen: SocketAddr,
    /// When set, every client must log in with these.
    pub credentials: Option<(String, Secret)>,
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
}

/// A running embedded broker; it stops when the runtime does.
pub struct Broker {
    pub addr: SocketAddr,
}

impl Broker {
    /// Binds the port (failing clearly if it is taken) and serves clients in the background.
    pub async fn start(settings: BrokerSettings) -> Result<Broker, BrokerError> {
        let addr = settings.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                BrokerError::PortInUse { addr }
            } else {
                BrokerError::Listen { addr, source }
            }
        })?;
        let addr = listener.local_addr().unwrap_or(addr);
        info!("embedded broker: listening on {addr}");
        let shared = Arc::new(Shared {
            settings,
            state: Mutex::new(State::default()),
        });
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve(shared.clone(), stream, peer));
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

struct Shared {
    settings: BrokerSettings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Connected clients by client id.
    clients: HashMap<String, Client>,
    retained: HashMap<String, Publish>,
    next_connection: u64,
}

struct Client {
    /// Tells apart a client from the one that took over its id.
    connection: u64,
    tx: mpsc::UnboundedSender<Packet>,
    subscriptions: Vec<(String, QoS)>,
}

impl State {
    /// Delivers `publish` to every client with a matching subscription, at the lower of the two
    /// QoS levels, and keeps or clears it as the retained message of its topic.
    fn route(&mut self, mut publish: Publish) {
        if publish.retain {
            if publish.payload.is_empty() {
                self.retained.remove(&publish.topic);
            } else {
                self.retained.insert(publish.topic.clone(), publish.clone());
            }
        }
        // Live delivery carries retain = 0 (MQTT 3.1.1, 3.3.1.3).
        publish.retain = false;
        publish.dup = false;
        for client in self.clients.values() {
            let granted = client
                .subscriptions
                .iter()
                .filter(|(f, _)| topic_matches(f, &publish.topic))
                .map(|(_, q)| *q)
                .max_by_key(|q| *q as u8);
            if let Some(q) = granted {
                let mut p = publish.clone();
                p.qos = min_qos(p.qos, q);
                let _ = client.tx.send(Packet::Publish(p));
            }
        }
    }
}

fn min_qos(a: QoS, b: QoS) -> QoS {
    if (a as u8) <= (b as u8) {
        a
    } else {
        b
    }
}

/// MQTT topic matching: `+` is one level, `#` the rest (including none); wildcards at the first
/// level do not match `$`-topics.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

fn valid_filter(filter: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    !filter.is_empty()
        && levels.iter().enumerate().all(|(i, l)| {
            (*l == "#" && i == levels.len() - 1)
                || *l == "+"
                || !(l.contains('#') || l.contains('+'))
        })
}

/// Reads the next whole packet, reading more from the socket as needed.
async fn read_packet(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
) -> Result<Packet, String> {
    loop {
        match Packet::read(buf, MAX_PACKET) {
            Ok(p) => return Ok(p),
            Err(mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(e) => return Err(format!("bad packet: {e}")),
        }
        buf.reserve(4096);
        match stream.read_buf(buf).await {
            Ok(0) => return Err("connection closed".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn refuse(writer: &mut tokio::net::tcp::OwnedWriteHalf, code: ConnectReturnCode) {
    let mut out = BytesMut::new();
    let _ = Packet::ConnAck(ConnAck::new(code, false)).write(&mut out, MAX_PACKET);
    let _ = writer.write_all(&out).await;
}

async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = BytesMut::with_capacity(4096);

    // CONNECT first, within a few seconds.
    let connect =
        match tokio::time::timeout(Duration::from_secs(10), read_packet(&mut reader, &mut buf))
            .await
        {
            Ok(Ok(Packet::Connect(c))) => c,
            Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
                debug!("embedded broker: {peer} did not connect properly");
                return;
            }
        };
    if let Some((user, password)) = &shared.settings.credentials {
        let ok = connect
            .login
            .as_ref()
            .is_some_and(|l| &l.username == user && l.password == password.expose());
        if !ok {
            // The name tried is useful in the log; the password never is.
            let who = connect
                .login
                .as_ref()
                .map_or("(no username)".to_string(), |l| format!("{:?}", l.username));
            warn!("embedded broker: {peer} refused: wrong username or password for {who}");
            refuse(&mut writer, ConnectReturnCode::BadUserNamePassword).await;
            return;
        }
    }
    let client_id = if connect.client_id.is_empty() {
        if !connect.clean_session {
            refuse(&mut writer, ConnectReturnCode::BadClientId).await;
            return;
        }
        format!("auto-{peer}")
    } else {
        connect.client_id.clone()
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<Packet>();
    let connection = {
        let mut state = shared.state.lock().expect("broker state");
        state.next_connection += 1;
        let connection = state.next_connection;
        // A second connection with the same id takes over (MQTT 3.1.4-2): the old one is closed
        // when its sender is dropped here.
        state.clients.insert(
            client_id.clone(),
            Client {
                connection,
                tx: tx.clone(),
                subscriptions: Vec::new(),
            },
        );
        connection
    };
    let _ = tx.send(Packet::ConnAck(ConnAck::new(
        ConnectReturnCode::Success,
        false,
    )));
    debug!("embedded broker: {client_id} connected from {peer}");

    // The writer: one task drains the client's queue onto the socket.
    let writing = tokio::spawn(async move {
        let mut out = BytesMut::with_capacity(4096);
        let mut pkid: u16 = 0;
        while let Some(mut packet) = rx.recv().await {
            if let Packet::Publish(p) = &mut packet {
                if p.qos != QoS::AtMostOnce {
                    pkid = pkid.checked_add(1).unwrap_or(1);
                    p.pkid = pkid;
                }
            }
            out.clear();
            if packet.write(&mut out, MAX_PACKET).is_err() || writer.write_all(&out).await.is_err()
            {
                break;
            }
        }
    });

    let keep_alive = match connect.keep_alive {
        0 => Duration::from_secs(24 * 3600),
        s => Duration::from_secs(u64::from(s)) * 3 / 2,
    };
    let mut will: Option<LastWill> = connect.last_will;
    loop {
        let packet =
            match tokio::time::timeout(keep_alive, read_packet(&mut reader, &mut buf)).await {
                Ok(Ok(p)) => p,
                Ok(Err(why)) => {
                    debug!("embedded broker: {client_id}: {why}");
                    break;
                }
                Err(_) => {
                    debug!("embedded broker: {client_id}: keep-alive timed out");
                    break;
                }
            };
        match packet {
            Packet::Publish(p) => {
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => {
                        let _ = tx.send(Packet::PubAck(PubAck::new(p.pkid)));
                    }
                    QoS::ExactlyOnce => {
                        let _ = tx.send(Packet::PubRec(PubRec::new(p.pkid)));
                    }
                }
                if p.topic.contains(['+', '#']) {
                    debug!("embedded broker: {client_id}: publish to a wildcard topic; dropped");
                    continue;
                }
                let mut p = p;
                p.qos = min_qos(p.qos, QoS::AtLeastOnce);
                shared.state.lock().expect("broker state").route(p);
            }
            Packet::PubRel(rel) => {
                let _ = tx.send(Packet::PubComp(PubComp::new(rel.pkid)));
            }
            Packet::Subscribe(sub) => {
                let mut codes = Vec::with_capacity(sub.filters.len());
                let mut retained = Vec::new();
                {
                    let mut state = shared.state.lock().expect("broker state");
                    let State {
                        clients,
                        retained: stored,
                        ..
                    } = &mut *state;
                    let Some(client) = clients
                        .get_mut(&client_id)
                        .filter(|c| c.connection == connection)
                    else {
                        break;
                    };
                    for f in sub.filters {
                        if !valid_filter(&f.path) {
                            codes.push(SubscribeReasonCode::Failure);
                            continue;
                        }
                        let qos = min_qos(f.qos, QoS::AtLeastOnce);
                        client
                            .subscriptions
                            .retain(|(existing, _)| *existing != f.path);
                        client.subscriptions.push((f.path.clone(), qos));
                        codes.push(SubscribeReasonCode::Success(qos));
                        for p in stored.values().filter(|p| topic_matches(&f.path, &p.topic)) {
                            let mut p = p.clone();
                            p.qos = min_qos(p.qos, qos);
                            retained.push(p);
                        }
                    }
                }
                let _ = tx.send(Packet::SubAck(SubAck::new(sub.pkid, codes)));
                for p in retained {
                    let _ = tx.send(Packet::Publish(p));
                }
            }
            Packet::Unsubscribe(unsub) => {
                if let Some(client) = shared
                    .state
                    .lock()
                    .expect("broker state")
                    .clients
                    .get_mut(&client_id)
                {
                    client
                        .subscriptions
                        .retain(|(f, _)| !unsub.topics.contains(f));
                }
                let _ = tx.send(Packet::UnsubAck(UnsubAck::new(unsub.pkid)));
            }
            Packet::PingReq => {
                let _ = tx.send(Packet::PingResp);
            }
            Packet::Disconnect => {
                will = None;
                break;
            }
            // Acknowledgements of what we sent: nothing is kept to resend, so nothing to do.
            Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_) => {}
            other => {
                debug!("embedded broker: {client_id}: unexpected {other:?}; closing");
                break;
            }
        }
    }

    drop(tx);
    let mut state = shared.state.lock().expect("broker state");
    if state
        .clients
        .get(&client_id)
        .is_some_and(|c| c.connection == connection)
    {
        state.clients.remove(&client_id);
    }
    if let Some(w) = will {
        debug!(
            "embedded broker: {client_id} gone: publishing its last will on {}",
            w.topic
        );
        let mut p = Publish::new(w.topic, w.qos, w.message.to_vec());
        p.retain = w.retain;
        state.route(p);
    }
    drop(state);
    writing.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_mqtt_says() {
        assert!(topic_matches("a/b", "a/b"));
        assert!(topic_matches("a/+", "a/b"));
        assert!(!topic_matches("a/+", "a/b/c"));
        assert!(topic_matches("a/#", "a"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(topic_matches("#", "a/b"));
        assert!(topic_matches(
            "+/+/+/+/config",
            "homeassistant/camera/x/snapshot/config"
        ));
        assert!(!topic_matches("#", "$SYS/uptime"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("a/b/c", "a/b"));
    }

    #[test]
    fn invalid_filters_are_refused() {
        for f in ["", "a/#/b", "a/b#", "a+/b"] {
            assert!(!valid_filter(f), "{f}");
        }
        for f in ["#", "+", "a/+/c", "a/#"] {
            assert!(valid_filter(f), "{f}");
        }
    }
}

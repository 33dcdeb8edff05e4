//! One client's connection to the embedded broker: it logs in, in either protocol version, then
//! [`apply`] carries out each packet it sends on the broker's state (one match arm each, the
//! state's methods doing the work). A writer task of its own empties the client's queue onto
//! the socket in the client's version, so a slow client never holds up the others.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::codec::{
    self, Connect, ConnectCode, Inbound, Outbound, OutgoingAliases, ReadError, Reason, Version,
    Will,
};
use super::message::Message;
use super::session::{limits, packet_size, Admission, Kick, Online, State};
use super::{Shared, MAX_CONNECT, MAX_PACKET};

/// Serves one accepted connection until it ends.
pub(super) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let (reader, writer) = stream.into_split();
    let Some(mut handler) = Handler::log_in(shared, reader, writer, peer).await else {
        return;
    };
    let reason = handler.run().await;
    handler.close(reason).await;
}

/// What a connection knows of its client beyond the shared state: who it is, which version it
/// speaks, and the topic aliases it set.
pub(super) struct Client {
    pub(super) id: String,
    pub(super) version: Version,
    aliases: HashMap<u16, String>,
}

impl Client {
    pub(super) fn new(id: impl Into<String>, version: Version) -> Client {
        Client {
            id: id.into(),
            version,
            aliases: HashMap::new(),
        }
    }

    /// The topic a PUBLISH names, through its topic alias if it has one (MQTT 5.0 §3.3.2.3.4):
    /// an alias with a topic sets it, one without uses it.
    fn topic(&mut self, topic: String, alias: Option<u16>) -> Result<String, Reason> {
        let Some(alias) = alias else {
            return Ok(topic);
        };
        if alias == 0 || alias > limits::TOPIC_ALIASES {
            return Err(Reason::TopicAliasInvalid);
        }
        if topic.is_empty() {
            return self
                .aliases
                .get(&alias)
                .cloned()
                .ok_or(Reason::ProtocolError);
        }
        self.aliases.insert(alias, topic.clone());
        Ok(topic)
    }
}

struct Handler {
    shared: Arc<Shared>,
    client: Client,
    /// Tells this connection apart from one that took over its client id.
    connection: u64,
    reader: OwnedReadHalf,
    buf: BytesMut,
    keep_alive: Duration,
    will: Option<Will>,
    kick: Arc<Kick>,
    writer: JoinHandle<Option<OwnedWriteHalf>>,
}

/// Why a CONNECT is refused, if it is: the login first, then what the broker does not take.
fn refusal(shared: &Shared, connect: &Connect, peer: SocketAddr) -> Option<ConnectCode> {
    if !shared.logs_in(connect, peer) {
        Some(ConnectCode::BadLogin)
    } else if connect.authentication_method {
        Some(ConnectCode::BadAuthenticationMethod)
    } else if connect.user_properties > limits::USER_PROPERTIES {
        Some(ConnectCode::QuotaExceeded)
    } else if connect.client_id.is_empty() && connect.version == Version::V4 && !connect.clean_start
    {
        Some(ConnectCode::ClientIdNotValid)
    } else {
        None
    }
}

impl Handler {
    /// CONNECT first, within 10 s, and at most [`MAX_CONNECT`] bytes: nothing larger is read from
    /// a client that has not logged in. Then the password, the client id, and the session.
    async fn log_in(
        shared: Arc<Shared>,
        mut reader: OwnedReadHalf,
        mut writer: OwnedWriteHalf,
        peer: SocketAddr,
    ) -> Option<Handler> {
        let mut buf = BytesMut::with_capacity(1024);
        let first = tokio::time::timeout(
            Duration::from_secs(10),
            read_with(&mut reader, &mut buf, MAX_CONNECT, codec::read_connect),
        )
        .await;
        // Never the packet itself in a log: a CONNECT holds a password.
        let connect = match first {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => {
                debug!("embedded broker: {peer} did not connect properly: {why}");
                return None;
            }
            Err(_) => {
                debug!("embedded broker: {peer} sent no CONNECT within 10 s; closed");
                return None;
            }
        };
        let version = connect.version;
        if let Some(code) = refusal(&shared, &connect, peer) {
            refuse(&mut writer, version, code).await;
            return None;
        }
        // An empty id gets one of its own: 5.0 is told it in CONNACK (§3.2.2.3.7).
        let assigned = connect.client_id.is_empty();
        let client_id = if assigned {
            format!("auto-{peer}")
        } else {
            connect.client_id.clone()
        };

        let (tx, rx) = mpsc::channel(limits::CLIENT_QUEUE);
        let online = Online {
            receive_maximum: usize::from(connect.receive_maximum),
            maximum_packet: connect.maximum_packet.and_then(|m| usize::try_from(m).ok()),
            ..Online::new(tx)
        };
        let kick = online.kick.clone();
        let writer = tokio::spawn(write(
            rx,
            writer,
            online.pending.clone(),
            version,
            connect.topic_alias_maximum,
        ));
        let admission = shared.state.lock().expect("broker state").connect(
            &client_id,
            connect.clean_start,
            connect.session_expiry,
            online,
            assigned && version == Version::V5,
            Instant::now(),
        );
        let Admission::Accepted { connection } = admission else {
            // The writer sends the refusal and ends, its queue's sender gone.
            let _ = writer.await;
            return None;
        };
        debug!("embedded broker: {client_id} connected from {peer} ({version:?})");
        let keep_alive = match connect.keep_alive {
            0 => Duration::from_secs(24 * 3600),
            s => Duration::from_secs(u64::from(s)) * 3 / 2,
        };
        Some(Handler {
            shared,
            client: Client::new(client_id, version),
            connection,
            reader,
            buf,
            keep_alive,
            will: connect.will,
            kick,
            writer,
        })
    }

    /// Reads and carries out packets until the connection is to close; the reason a 5.0 client
    /// is told, if any.
    async fn run(&mut self) -> Option<Reason> {
        let version = self.client.version;
        loop {
            let read = tokio::select! {
                r = tokio::time::timeout(
                    self.keep_alive,
                    read_with(&mut self.reader, &mut self.buf, MAX_PACKET, |b, m| codec::read(version, b, m)),
                ) => r,
                () = self.kick.notified() => {
                    info!("embedded broker: {}: connection closed (its id connected again, or it stopped reading)", self.client.id);
                    return self.kick.reason();
                }
            };
            let packet = match read {
                Ok(Ok(p)) => p,
                Ok(Err(ConnError::Bad(why))) => {
                    debug!("embedded broker: {}: bad packet: {why}", self.client.id);
                    return Some(why.reason());
                }
                Ok(Err(why)) => {
                    debug!("embedded broker: {}: {why}", self.client.id);
                    return None;
                }
                Err(_) => {
                    debug!("embedded broker: {}: keep-alive timed out", self.client.id);
                    return Some(Reason::KeepAliveTimeout);
                }
            };
            let mut state = self.shared.state.lock().expect("broker state");
            if !state.current(&self.client.id, self.connection) {
                return None;
            }
            match apply(&mut state, &mut self.client, packet, Instant::now()) {
                Step::Go => {}
                Step::Goodbye { with_will } => {
                    if !with_will {
                        self.will = None;
                    }
                    return None;
                }
                Step::Close(reason) => return reason,
            }
        }
    }

    /// The connection is over: its session waits or goes, its last will is published (after its
    /// delay) unless it said goodbye, and a 5.0 client is told why when the broker closed it.
    async fn close(self, reason: Option<Reason>) {
        let now = Instant::now();
        {
            let mut state = self.shared.state.lock().expect("broker state");
            state.disconnect(&self.client.id, self.connection, now);
            if let Some(w) = self.will {
                debug!(
                    "embedded broker: {} gone: its last will on {}",
                    self.client.id, w.message.topic
                );
                let mut m = w.message;
                m.expires =
                    Message::expiry(now + Duration::from_secs(u64::from(w.delay)), w.expiry);
                state.will(&self.client.id, m, w.delay, now);
            }
        }
        // With the session let go, the writer ends once what was queued is written; one that
        // does not read gets a second, no more.
        let abort = self.writer.abort_handle();
        match tokio::time::timeout(Duration::from_secs(1), self.writer).await {
            Ok(Ok(Some(mut w))) => {
                if let (Version::V5, Some(reason)) = (self.client.version, reason) {
                    let mut out = BytesMut::new();
                    let packet = Outbound::Disconnect(reason);
                    codec::write(
                        Version::V5,
                        &packet,
                        &mut out,
                        &mut OutgoingAliases::new(0),
                        now,
                    );
                    let _ = w.write_all(&out).await;
                    let _ = w.shutdown().await;
                    linger(self.reader).await;
                    return;
                }
                let _ = w.shutdown().await;
            }
            Ok(_) => {}
            Err(_) => abort.abort(),
        }
    }
}

/// After the broker's DISCONNECT: what the client still sends is read and dropped, for 2 s at
/// most, until it closes. A socket closed with unread bytes is reset, and a reset can take the
/// DISCONNECT with it before the client has read why it was closed.
async fn linger(mut reader: OwnedReadHalf) {
    let drain = async {
        let mut sink = [0u8; 4096];
        while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// What to do after a packet.
pub(super) enum Step {
    Go,
    /// DISCONNECT: close; the last will is published only when asked for (5.0's 0x04).
    Goodbye {
        with_will: bool,
    },
    /// Something a client must not send: close (the last will is published), telling a 5.0
    /// client why.
    Close(Option<Reason>),
}

/// Carries out one packet from `client`, one function per kind. Plain and synchronous, so the
/// fuzz target drives exactly this with arbitrary packets.
pub(super) fn apply(state: &mut State, client: &mut Client, packet: Inbound, now: Instant) -> Step {
    let id = client.id.as_str();
    match packet {
        Inbound::Publish {
            message,
            topic_alias,
            expiry,
        } => return on_publish(state, client, message, topic_alias, expiry, now),
        Inbound::PubAck(pkid) | Inbound::PubComp(pkid) => state.acknowledged(id, pkid, now),
        Inbound::PubRec(pkid) => state.received(id, pkid),
        Inbound::PubRel(pkid) => state.released(id, pkid),
        Inbound::Subscribe {
            pkid,
            filters,
            id: sub_id,
        } => state.subscribe(id, pkid, filters, sub_id, now),
        Inbound::Unsubscribe { pkid, filters } => state.unsubscribe(id, pkid, &filters),
        Inbound::PingReq => state.send(id, Outbound::PingResp),
        Inbound::Disconnect {
            with_will,
            session_expiry,
        } => {
            if session_expiry.is_some_and(|e| !state.set_expiry(id, e)) {
                return Step::Close(Some(Reason::ProtocolError));
            }
            return Step::Goodbye { with_will };
        }
        Inbound::Unexpected(kind) => {
            debug!("embedded broker: {id}: unexpected {kind} packet; closing");
            return Step::Close(Some(Reason::ProtocolError));
        }
    }
    Step::Go
}

fn on_publish(
    state: &mut State,
    client: &mut Client,
    mut m: Message,
    topic_alias: Option<u16>,
    expiry: Option<u32>,
    now: Instant,
) -> Step {
    m.topic = match client.topic(std::mem::take(&mut m.topic), topic_alias) {
        Ok(t) => t,
        Err(reason) => return Step::Close(Some(reason)),
    };
    let id = client.id.as_str();
    let new = match m.qos {
        QoS::AtMostOnce => true,
        QoS::AtLeastOnce => {
            state.send(id, Outbound::PubAck(m.pkid));
            true
        }
        // Delivered once, at once; a copy sent again before PUBREL is only acknowledged.
        QoS::ExactlyOnce => match state.incoming_qos2(id, m.pkid) {
            Some(new) => {
                state.send(id, Outbound::PubRec(m.pkid));
                new
            }
            None => return Step::Close(Some(Reason::ReceiveMaximumExceeded)),
        },
    };
    if !codec::valid_topic(&m.topic) {
        debug!("embedded broker: {id}: publish to an invalid topic; dropped");
        return Step::Go;
    }
    if new {
        m.expires = Message::expiry(now, expiry);
        state.route(m, Some(id), now);
    }
    Step::Go
}

/// Empties one client's queue onto its socket, in its version; gives the socket back when the
/// queue's senders are gone, for a last DISCONNECT.
async fn write(
    mut rx: mpsc::Receiver<Outbound>,
    mut writer: OwnedWriteHalf,
    pending: Arc<AtomicUsize>,
    version: Version,
    topic_alias_maximum: u16,
) -> Option<OwnedWriteHalf> {
    let mut aliases = OutgoingAliases::new(topic_alias_maximum);
    let mut out = BytesMut::with_capacity(4096);
    while let Some(packet) = rx.recv().await {
        let size = packet_size(&packet);
        out.clear();
        let ok = !codec::write(version, &packet, &mut out, &mut aliases, Instant::now())
            || writer.write_all(&out).await.is_ok();
        pending.fetch_sub(size, Ordering::AcqRel);
        if !ok {
            return None;
        }
    }
    Some(writer)
}

/// Why no packet was read from a client.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    /// Not MQTT, or larger than allowed (the error names the kind, never the content).
    #[error("bad packet: {0}")]
    Bad(ReadError),
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads the next whole packet of at most `max` bytes with `read`, reading more from the socket
/// as needed.
async fn read_with<T>(
    stream: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    max: usize,
    read: impl Fn(&mut BytesMut, usize) -> Result<T, ReadError>,
) -> Result<T, ConnError> {
    loop {
        let missing = match read(buf, max) {
            Ok(p) => return Ok(p),
            Err(ReadError::Incomplete(n)) => n,
            Err(e) => return Err(ConnError::Bad(e)),
        };
        // Room for the rest of this packet, not a doubling: a payload keeps its buffer alive
        // for as long as it waits in clients' queues, and the queues count payload bytes.
        buf.reserve(missing.clamp(1024, 1 << 20));
        if stream.read_buf(buf).await? == 0 {
            return Err(ConnError::Closed);
        }
    }
}

async fn refuse(writer: &mut OwnedWriteHalf, version: Version, code: ConnectCode) {
    let mut out = BytesMut::new();
    let packet = Outbound::ConnAck {
        code,
        session_present: false,
        assigned_client_id: None,
    };
    codec::write(
        version,
        &packet,
        &mut out,
        &mut OutgoingAliases::new(0),
        Instant::now(),
    );
    let _ = writer.write_all(&out).await;
}

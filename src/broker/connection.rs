//! One client's connection to the embedded broker: it logs in, then [`apply`] carries out each
//! packet it sends on the broker's state (one match arm each, the state's methods doing the work). A writer task of its own empties the
//! client's queue onto the socket, so a slow client never holds up the others.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::{self, QoS};
use rumqttc::{
    ConnAck, Connect, ConnectReturnCode, LastWill, Packet, PubAck, PubComp, PubRec, Publish,
    UnsubAck,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::session::{limits, min_qos, packet_size, Admission, Online, State};
use super::{Shared, MAX_CONNECT, MAX_FIXED_HEADER, MAX_PACKET};

/// Serves one accepted connection until it ends.
pub(super) async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let (reader, writer) = stream.into_split();
    let Some(mut handler) = Handler::log_in(shared, reader, writer, peer).await else {
        return;
    };
    handler.run().await;
    handler.close();
}

struct Handler {
    shared: Arc<Shared>,
    client_id: String,
    /// Tells this connection apart from one that took over its client id.
    connection: u64,
    reader: OwnedReadHalf,
    buf: BytesMut,
    keep_alive: Duration,
    will: Option<LastWill>,
    kick: Arc<Notify>,
    writer: JoinHandle<()>,
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
            read_packet(&mut reader, &mut buf, MAX_CONNECT),
        )
        .await;
        let connect: Connect = match first {
            Ok(Ok(Packet::Connect(c))) => c,
            // Never the packet itself in a log: a CONNECT holds a password.
            Ok(Ok(other)) => {
                debug!(
                    "embedded broker: {peer} sent {} before CONNECT; closed",
                    kind(&other)
                );
                return None;
            }
            Ok(Err(why)) => {
                debug!("embedded broker: {peer} did not connect properly: {why}");
                return None;
            }
            Err(_) => {
                debug!("embedded broker: {peer} sent no CONNECT within 10 s; closed");
                return None;
            }
        };
        if !shared.logs_in(&connect, peer) {
            refuse(&mut writer, ConnectReturnCode::BadUserNamePassword).await;
            return None;
        }
        let client_id = if connect.client_id.is_empty() {
            if !connect.clean_session {
                refuse(&mut writer, ConnectReturnCode::BadClientId).await;
                return None;
            }
            format!("auto-{peer}")
        } else {
            connect.client_id.clone()
        };

        let (tx, rx) = mpsc::channel(limits::CLIENT_QUEUE);
        let pending = Arc::new(AtomicUsize::new(0));
        let kick = Arc::new(Notify::new());
        let writer = tokio::spawn(write(rx, writer, pending.clone()));
        let online = Online {
            connection: 0,
            tx,
            pending,
            kick: kick.clone(),
        };
        let admission = shared.state.lock().expect("broker state").connect(
            &client_id,
            connect.clean_session,
            online,
        );
        let Admission::Accepted { connection } = admission else {
            // The writer sends the refusal and ends, its queue's sender gone.
            let _ = writer.await;
            return None;
        };
        debug!("embedded broker: {client_id} connected from {peer}");
        let keep_alive = match connect.keep_alive {
            0 => Duration::from_secs(24 * 3600),
            s => Duration::from_secs(u64::from(s)) * 3 / 2,
        };
        Some(Handler {
            shared,
            client_id,
            connection,
            reader,
            buf,
            keep_alive,
            will: connect.last_will,
            kick,
            writer,
        })
    }

    async fn run(&mut self) {
        loop {
            let read = tokio::select! {
                r = tokio::time::timeout(
                    self.keep_alive,
                    read_packet(&mut self.reader, &mut self.buf, MAX_PACKET),
                ) => r,
                _ = self.kick.notified() => {
                    info!("embedded broker: {}: connection closed (its id connected again, or it stopped reading)", self.client_id);
                    return;
                }
            };
            let packet = match read {
                Ok(Ok(p)) => p,
                Ok(Err(why)) => return debug!("embedded broker: {}: {why}", self.client_id),
                Err(_) => {
                    return debug!("embedded broker: {}: keep-alive timed out", self.client_id)
                }
            };
            if !self.handle(packet) {
                return;
            }
        }
    }

    /// One packet from the client; false when the connection is to close.
    fn handle(&mut self, packet: Packet) -> bool {
        let mut state = self.shared.state.lock().expect("broker state");
        if !state.current(&self.client_id, self.connection) {
            return false;
        }
        match apply(&mut state, &self.client_id, packet) {
            Step::Go => true,
            Step::Goodbye => {
                self.will = None;
                false
            }
            Step::Close => false,
        }
    }

    /// The connection is over: its session waits or goes, and its last will is published unless
    /// it said goodbye.
    fn close(self) {
        let mut state = self.shared.state.lock().expect("broker state");
        state.disconnect(&self.client_id, self.connection);
        if let Some(w) = self.will {
            debug!(
                "embedded broker: {} gone: publishing its last will on {}",
                self.client_id, w.topic
            );
            let mut p = Publish::new(
                w.topic,
                min_qos(w.qos, QoS::AtLeastOnce),
                w.message.to_vec(),
            );
            p.retain = w.retain;
            state.route(p);
        }
        drop(state);
        self.writer.abort();
    }
}

/// What to do after a packet.
pub(super) enum Step {
    Go,
    /// DISCONNECT: close, and the last will is not published.
    Goodbye,
    /// Something a client must not send: close (the last will is published).
    Close,
}

/// Carries out one packet from `client_id`, one function per kind. Plain and synchronous, so the
/// fuzz target drives exactly this with arbitrary packets.
pub(super) fn apply(state: &mut State, client_id: &str, packet: Packet) -> Step {
    match packet {
        Packet::Publish(p) => on_publish(state, client_id, p),
        Packet::PubAck(ack) => state.acknowledged(client_id, ack.pkid),
        Packet::PubRel(rel) => state.send(client_id, Packet::PubComp(PubComp::new(rel.pkid))),
        // Messages go out at QoS 1 at most: nothing of ours to complete.
        Packet::PubRec(_) | Packet::PubComp(_) => {}
        Packet::Subscribe(s) => {
            let filters = s.filters.into_iter().map(|f| (f.path, f.qos)).collect();
            state.subscribe(client_id, s.pkid, filters);
        }
        Packet::Unsubscribe(u) => {
            state.unsubscribe(client_id, &u.topics);
            state.send(client_id, Packet::UnsubAck(UnsubAck::new(u.pkid)));
        }
        Packet::PingReq => state.send(client_id, Packet::PingResp),
        Packet::Disconnect => return Step::Goodbye,
        other => {
            debug!(
                "embedded broker: {client_id}: unexpected {} packet; closing",
                kind(&other)
            );
            return Step::Close;
        }
    }
    Step::Go
}

fn on_publish(state: &mut State, client_id: &str, mut p: Publish) {
    match p.qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => state.send(client_id, Packet::PubAck(PubAck::new(p.pkid))),
        QoS::ExactlyOnce => state.send(client_id, Packet::PubRec(PubRec::new(p.pkid))),
    }
    if p.topic.is_empty() || p.topic.contains(['+', '#']) {
        debug!("embedded broker: {client_id}: publish to an invalid topic; dropped");
        return;
    }
    // QoS 2 is delivered as QoS 1.
    p.qos = min_qos(p.qos, QoS::AtLeastOnce);
    state.route(p);
}

/// Empties one client's queue onto its socket.
async fn write(
    mut rx: mpsc::Receiver<Packet>,
    mut writer: OwnedWriteHalf,
    pending: Arc<AtomicUsize>,
) {
    let mut out = BytesMut::with_capacity(4096);
    while let Some(packet) = rx.recv().await {
        let size = packet_size(&packet);
        out.clear();
        // MAX_PACKET bounds what follows the fixed header (as read); rumqttc's write counts the
        // header too, so a packet taken at the limit must be allowed its header to go out
        // (without it, a 32 MiB publish disconnected every subscriber).
        let ok = packet
            .write(&mut out, MAX_PACKET + MAX_FIXED_HEADER)
            .is_ok()
            && writer.write_all(&out).await.is_ok();
        pending.fetch_sub(size, Ordering::AcqRel);
        if !ok {
            break;
        }
    }
}

/// Why no packet was read from a client.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    /// Not MQTT, or larger than allowed (the error names the kind, never the content).
    #[error("bad packet: {0}")]
    Bad(mqttbytes::Error),
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads the next whole packet of at most `max` bytes, reading more from the socket as needed.
pub(super) async fn read_packet(
    stream: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Packet, ReadError> {
    loop {
        let missing = match Packet::read(buf, max) {
            Ok(p) => return Ok(p),
            Err(mqttbytes::Error::InsufficientBytes(n)) => n,
            Err(e) => return Err(ReadError::Bad(e)),
        };
        // Room for the rest of this packet, not a doubling: a payload keeps its buffer alive
        // for as long as it waits in clients' queues, and the queues count payload bytes.
        buf.reserve(missing.clamp(1024, 1 << 20));
        if stream.read_buf(buf).await? == 0 {
            return Err(ReadError::Closed);
        }
    }
}

async fn refuse(writer: &mut OwnedWriteHalf, code: ConnectReturnCode) {
    let mut out = BytesMut::new();
    let _ = Packet::ConnAck(ConnAck::new(code, false)).write(&mut out, MAX_PACKET);
    let _ = writer.write_all(&out).await;
}

/// A packet's kind, for logs that must not show its content.
pub(super) fn kind(p: &Packet) -> &'static str {
    match p {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect => "DISCONNECT",
    }
}

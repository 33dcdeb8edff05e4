//! The connection a session is being served on, and how it is told to close.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use super::limits;
use crate::broker::codec::{Outbound, Reason};

/// How a connection is told to close, and why (for a 5.0 client's DISCONNECT).
#[derive(Default)]
pub struct Kick {
    pub(super) notify: Notify,
    pub(super) reason: AtomicU8,
}

impl Kick {
    /// Tells the connection to close; the first reason given is the one it is told.
    pub fn kick(&self, reason: Reason) {
        let _ = self
            .reason
            .compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire);
        self.notify.notify_one();
    }

    pub fn reason(&self) -> Option<Reason> {
        Reason::from_code(self.reason.load(Ordering::Acquire))
    }

    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Whether it was kicked (for tests: a stored permit completes at once).
    #[doc(hidden)]
    pub fn kicked(&self) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable()
    }
}

/// The connection a session is being served on.
pub struct Online {
    pub connection: u64,
    pub tx: mpsc::Sender<Outbound>,
    /// Bytes in `tx` not yet written (the writer takes them off).
    pub pending: Arc<AtomicUsize>,
    /// Told when the connection must close (taken over, or not reading).
    pub kick: Arc<Kick>,
    /// MQTT 5.0: how many QoS 1 and 2 messages the client takes unacknowledged.
    pub receive_maximum: usize,
    /// MQTT 5.0: the largest packet it takes; a larger message is not sent to it (§3.1.2.11.4).
    pub maximum_packet: Option<usize>,
}

impl Online {
    /// An online connection with 3.1.1's defaults, its packets going to `tx`.
    pub fn new(tx: mpsc::Sender<Outbound>) -> Online {
        Online {
            connection: 0,
            tx,
            pending: Arc::new(AtomicUsize::new(0)),
            kick: Arc::new(Kick::default()),
            receive_maximum: usize::from(u16::MAX),
            maximum_packet: None,
        }
    }

    /// Queues `packet`; false when the client is too far behind (and is then told to go).
    pub(super) fn send(&self, packet: Outbound) -> bool {
        let size = packet_size(&packet);
        let pending = self.pending.load(Ordering::Acquire);
        let fits = pending + size <= limits::CLIENT_QUEUE_BYTES || pending == 0;
        if fits && self.tx.try_send(packet).is_ok() {
            self.pending.fetch_add(size, Ordering::AcqRel);
            return true;
        }
        self.kick.kick(Reason::QuotaExceeded);
        false
    }
}

/// What a packet costs in a client's queue.
pub fn packet_size(packet: &Outbound) -> usize {
    match packet {
        Outbound::Publish(m) => m.size() + 8,
        _ => 8,
    }
}

//! The bounds of what the broker keeps. Generous for a home (a few cameras, one Home Assistant,
//! the bridge), small enough that a stranger filling every one of them costs a Pi a few hundred
//! MB at most.

/// Clients connected at once; more are closed at once.
pub const CONNECTIONS: usize = 256;
/// Sessions kept, connected or not.
pub const SESSIONS: usize = 1024;
/// Subscriptions one client may hold.
pub const SUBSCRIPTIONS: usize = 1000;
/// Retained messages, and their bytes.
pub const RETAINED: usize = 100_000;
pub const RETAINED_BYTES: usize = 256 << 20;
/// Packets and bytes waiting to be written to one client: past either, it is not reading, and
/// its connection is closed.
pub const CLIENT_QUEUE: usize = 10_000;
pub const CLIENT_QUEUE_BYTES: usize = 16 << 20;
/// QoS 1 and 2 messages sent to one client and not yet acknowledged. A 5.0 client may ask
/// for fewer (its receive maximum): the rest then wait in its queue.
pub const INFLIGHT: usize = 1000;
/// QoS 1 and 2 messages kept for one absent (or flow-controlled) client, and their bytes;
/// the oldest go first.
pub const QUEUED: usize = 1000;
pub const QUEUED_BYTES: usize = 32 << 20;
/// QoS 2 messages one client may have sent and not yet released (MQTT 5.0's Receive Maximum,
/// announced in CONNACK); one more closes its connection (0x93).
pub const RECEIVE_MAXIMUM: u16 = 1000;
/// MQTT 5.0: topic aliases a client may set (announced as Topic Alias Maximum), and the
/// most the broker gives one client.
pub const TOPIC_ALIASES: u16 = 32;
/// MQTT 5.0: user properties in one packet (CONNECT: with its will's), and the bytes of all
/// of one packet's properties. Past either, the packet is refused unread.
pub const USER_PROPERTIES: usize = 32;
pub const PROPERTY_BYTES: usize = 8 << 10;

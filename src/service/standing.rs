//! How the bridge stands, as `solarcam-bridge health` and systemd's STATUS tell it: whether it is
//! connected to Home Assistant's broker, and the last problem. The shell changes it through these
//! methods only.

#[derive(Debug, Default)]
pub(super) struct Standing {
    connected: bool,
    last_error: Option<String>,
}

impl Standing {
    /// Connected to Home Assistant's broker.
    pub(super) fn connected(&self) -> bool {
        self.connected
    }

    pub(super) fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Home Assistant's broker took the connection: a past problem is over.
    pub(super) fn ha_connected(&mut self) {
        self.connected = true;
        self.last_error = None;
    }

    /// A connection was lost or refused (`ha`: Home Assistant's), for `why`.
    pub(super) fn lost(&mut self, ha: bool, why: String) {
        if ha {
            self.connected = false;
        }
        self.last_error = Some(why);
    }

    /// The connections are being opened anew (the broker settings changed).
    pub(super) fn reconnecting(&mut self) {
        self.connected = false;
    }

    /// The configuration file was refused: the running one stays.
    pub(super) fn file_refused(&mut self, what: String) {
        self.last_error = Some(what);
    }

    /// The file was refused before, and is good now.
    pub(super) fn file_fixed(&mut self) {
        self.last_error = None;
    }
}

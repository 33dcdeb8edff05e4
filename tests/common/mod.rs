#![allow(unreachable_pub)] // shared by the test crates, which have no public API
//! Test support: a real Mosquitto per test on a free loopback port, the bridge binary as a child
//! process, and an MQTT client that records what it sees.

#![allow(dead_code)] // each test file uses its own part of this

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

pub const DRIVEWAY: &str = "5CC5638AE24C";
pub const BARN: &str = "5CC5638AE24D";
pub const WAIT: Duration = Duration::from_secs(10);

mod mosquitto;
#[allow(unused_imports)] // each test file uses its own part
pub use mosquitto::{free_port, Mosquitto};

#[allow(unused_imports)] // like the rest of this module, each test file uses its own part
pub use solarcam_bridge::test_support::{b64, hex};

/// A real JPEG (160x120, made by Pillow).
pub fn jpeg() -> Vec<u8> {
    solarcam_bridge::test_support::SAMPLE_JPEG.to_vec()
}

/// A number from `/proc/<pid>/status` in kB (`VmRSS:`, `VmHWM:`).
pub fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The virtual camera (`solarcam-bridge simulate`) as a child process, stopped when dropped.
pub struct Simulator {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Simulator {
    /// Starts it and waits until it is subscribed to its commands (a command sent before that is
    /// lost, as with a real camera).
    pub fn start(port: u16, mac: &str, extra: &[&str]) -> Simulator {
        Self::start_with_env(port, mac, extra, &[])
    }

    /// [`Simulator::start`], with environment variables of its own.
    pub fn start_with_env(port: u16, mac: &str, extra: &[&str], env: &[(&str, &str)]) -> Simulator {
        let mut child = Command::new(bin())
            .envs(env.iter().copied())
            .args([
                "simulate",
                "--broker",
                &format!("mqtt://127.0.0.1:{port}"),
                "--mac",
                mac,
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let sim = Simulator { child, log };
        sim.wait_line("it to subscribe", |l| l.contains("listening for commands"));
        sim
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits for the `n`-th log line (1-based) that `pred` accepts, and returns it.
    pub fn wait_lines(&self, what: &str, n: usize, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found: Vec<String> = self
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| pred(l))
                .cloned()
                .collect();
            if found.len() >= n {
                return found[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "the virtual camera never logged {what} ({n}); its log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_lines(what, 1, pred)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA, and a certificate for 127.0.0.1/localhost signed by it, made with openssl in `dir`:
/// `ca.pem`, `server.pem`, `server.key`; and `other-ca.pem`, a CA that signed nothing.
pub fn make_certificates(dir: &Path) {
    let sh = |script: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for the TLS tests");
        assert!(ok.success(), "{script}");
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh(&format!(
        "openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=solarcam-test-ca"
    ));
    sh(&format!("openssl req -x509 {ec} -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=someone-else"));
    sh(&format!(
        "openssl req {ec} -keyout server.key -out server.csr -subj /CN=localhost"
    ));
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext.cnf && \
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf");
    // A client certificate for brokers that ask for one: client.pem, client.key.
    sh(&format!(
        "openssl req {ec} -keyout client.key -out client.csr -subj /CN=solarcam-bridge"
    ));
    sh("printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > client-ext.cnf && \
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client-ext.cnf");
}

/// The bridge binary, run on a config file of the test's; killed when dropped.
pub struct BridgeProcess {
    pub child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// The threads reading its stdout and stderr into `log`; they end when it exits.
    readers: Vec<std::thread::JoinHandle<()>>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_solarcam-bridge")
}

impl BridgeProcess {
    pub fn start(config_text: &str) -> BridgeProcess {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, config_text).unwrap();
        Self::start_at(dir, config, &[])
    }

    pub fn start_at(
        dir: tempfile::TempDir,
        config: PathBuf,
        env: &[(&str, &str)],
    ) -> BridgeProcess {
        let mut cmd = Command::new(bin());
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "debug")
            // Each bridge remembers into its own directory, as systemd's StateDirectory= gives it.
            .env("STATE_DIRECTORY", dir.path().join("state"))
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC");
        // An empty value removes the variable (RUST_LOG, to let the file's log_level decide).
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        Self::spawn(cmd, dir, config)
    }

    /// Runs `cmd` (the bridge, or `docker run` of its image), keeping what it prints on stdout
    /// and stderr as its log.
    pub fn spawn(mut cmd: Command, dir: tempfile::TempDir, config: PathBuf) -> BridgeProcess {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let readers = [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ]
        .into_iter()
        .map(|stream| {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("bridge: {line}");
                    sink.lock().unwrap().push(line);
                }
            })
        })
        .collect();
        BridgeProcess {
            child,
            log,
            readers,
            dir,
            config,
        }
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits for a log line containing every one of `parts`.
    pub fn wait_log(&self, parts: &[&str]) -> String {
        self.wait_log_nth(parts, 1)
    }

    /// Waits for the `n`-th log line (1-based) containing every one of `parts`: what happens
    /// again (a reconnection) is not mistaken for its first time.
    pub fn wait_log_nth(&self, parts: &[&str], n: usize) -> String {
        self.wait_log_nth_within(parts, n, WAIT)
    }

    /// [`BridgeProcess::wait_log_nth`], with a deadline of its own.
    pub fn wait_log_nth_within(&self, parts: &[&str], n: usize, within: Duration) -> String {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(line) = self
                .log()
                .into_iter()
                .filter(|l| parts.iter().all(|p| l.contains(p)))
                .nth(n - 1)
            {
                return line;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no log line {n} with {parts:?}; log:\n{}",
            self.log().join("\n")
        );
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Stops it (SIGTERM) and returns its whole log, to the last line: what a test says was
    /// never logged, or logged so many times, is read from this.
    pub fn stop(&mut self) -> Vec<String> {
        self.signal("TERM");
        self.wait_exit(WAIT).expect("stops on SIGTERM");
        self.log()
    }

    /// Waits for the process to end, and for its last lines to be in [`BridgeProcess::log`].
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its pipes are closed: the readers finish once they have taken the last lines.
                for reader in self.readers.drain(..) {
                    let _ = reader.join();
                }
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config for one broker and the two test cameras.
pub fn config_for(broker: &Mosquitto, extra: &str) -> String {
    format!(
        "mqtt:\n  url: {}\n  client_id: bridge-under-test\n{extra}\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n    area: Garden\n  - mac: 5c:c5:63:8a:e2:4d\n    name: Barn\n",
        broker.url()
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    /// As delivered: a Peer subscribes with QoS 1, so 0 here means it was published with QoS 0.
    pub qos: u8,
}

impl Msg {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {:?}", self.topic, self.text()))
    }
}

/// Subscribes `client` to `filters` and hands every message to `on_publish` in a thread of its
/// own, until `on_publish` returns false or the connection ends (dropping every handle of the
/// client ends it); returns once the broker has acknowledged every subscription (or the
/// connection, for none).
pub fn subscribe_in_thread(
    client: &Client,
    mut connection: rumqttc::Connection,
    filters: &[&str],
    mut on_publish: impl FnMut(rumqttc::Publish) -> bool + Send + 'static,
) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let want = filters.len();
    for f in filters {
        client.subscribe(*f, QoS::AtLeastOnce).unwrap();
    }
    std::thread::spawn(move || {
        let mut acks = 0;
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    acks += 1;
                    if acks == want {
                        let _ = ready_tx.send(());
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) if want == 0 => {
                    let _ = ready_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if !on_publish(p) {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    ready_rx
        .recv_timeout(WAIT)
        .expect("test client could not connect and subscribe");
}

/// An MQTT client that records every message on its subscriptions.
pub struct Peer {
    client: Client,
    rx: Receiver<Msg>,
    pub seen: Vec<Msg>,
}

static PEERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Peer {
    pub fn connect(port: u16, filters: &[&str]) -> Peer {
        Self::connect_as(port, filters, None)
    }

    pub fn connect_as(port: u16, filters: &[&str], credentials: Option<(&str, &str)>) -> Peer {
        let n = PEERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut opts = MqttOptions::new(
            format!("test-peer-{}-{n}", std::process::id()),
            "127.0.0.1",
            port,
        );
        opts.set_max_packet_size(64 << 20, 64 << 20);
        opts.set_keep_alive(Duration::from_secs(30));
        if let Some((u, p)) = credentials {
            opts.set_credentials(u, p);
        }
        let (client, connection) = Client::new(opts, 64);
        let (tx, rx) = mpsc::channel();
        subscribe_in_thread(&client, connection, filters, move |p| {
            let msg = Msg {
                topic: p.topic,
                payload: p.payload.to_vec(),
                retain: p.retain,
                qos: p.qos as u8,
            };
            tx.send(msg).is_ok()
        });
        Peer {
            client,
            rx,
            seen: Vec::new(),
        }
    }

    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .unwrap();
    }

    /// The next message (after those already seen) matching `pred`, within [`WAIT`].
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Msg) -> bool) -> Msg {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) => {
                    self.seen.push(msg.clone());
                    if pred(&msg) {
                        return msg;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    let topics: Vec<&str> = self.seen.iter().map(|m| m.topic.as_str()).collect();
                    panic!("timed out waiting for {what}; seen: {topics:#?}");
                }
            }
        }
    }

    /// The next message matching `pred` within `timeout`, or `None` (for tests that measure
    /// rather than require).
    pub fn next_within(&mut self, timeout: Duration, pred: impl Fn(&Msg) -> bool) -> Option<Msg> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.rx.recv_timeout(left).ok()?;
            self.seen.push(msg.clone());
            if pred(&msg) {
                return Some(msg);
            }
        }
    }

    /// The next message on `topic`.
    pub fn next_on(&mut self, topic: &str) -> Msg {
        self.wait_for(topic, |m| m.topic == topic)
    }
}

/// What the broker holds retained on `topic`, as a new subscriber sees it.
pub fn retained(port: u16, topic: &str) -> Option<Msg> {
    retained_under(port, topic).remove(topic)
}

/// Waits until the broker holds a retained message on `topic`, and returns it.
pub fn wait_retained(port: u16, topic: &str) -> Msg {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(m) = retained(port, topic) {
            return m;
        }
        assert!(Instant::now() < deadline, "{topic} never retained");
    }
}

/// A camera's (or the bridge's) device config topic: `solarcam_5cc5638ae24c`, `solarcam_bridge`.
pub fn device_topic(node: &str) -> String {
    format!("homeassistant/device/{node}/config")
}

/// The camera node of a MAC as the tests write it (`5CC5638AE24C`).
pub fn node(mac: &str) -> String {
    format!("solarcam_{}", mac.to_lowercase())
}

/// Waits until `node`'s retained device config has the component `key` (an entity or a
/// trigger), and returns the whole config.
pub fn wait_component(port: u16, node: &str, key: &str) -> serde_json::Value {
    let topic = device_topic(node);
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(m) = retained(port, &topic) {
            let config = m.json();
            if config["components"].get(key).is_some() {
                return config;
            }
        }
        assert!(Instant::now() < deadline, "{topic} never had {key}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the retained message on `topic`, read with `login` (for brokers that ask for one).
pub fn wait_retained_as(port: u16, topic: &str, login: (&str, &str)) -> Msg {
    let mut peer = Peer::connect_as(port, &[topic], Some(login));
    peer.wait_for(topic, |m| m.topic == topic && m.retain)
}

/// The first snapshot archived under a camera's `folder` (in its day's folder), once there is one.
pub fn wait_for_archived_jpeg(folder: &Path) -> PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|day| {
                std::fs::read_dir(day.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|f| f.path())
            .find(|p| p.extension().is_some_and(|e| e == "jpg"));
        if let Some(f) = found {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "nothing archived in {}",
            folder.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the file at `path` holds `text`, and returns all of it.
pub fn wait_for_file_containing(path: &Path, text: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if s.contains(text) {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The bridge's saved state once `holds` is true of it: the state file is written by a
/// thread of its own, so it lags the log and the broker by a moment.
pub fn wait_for_state(dir: &Path, holds: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let path = dir.join("state/state.json");
    let deadline = Instant::now() + WAIT;
    loop {
        let saved = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        match saved {
            Some(saved) if holds(&saved) => return saved,
            saved => assert!(
                Instant::now() < deadline,
                "{} never held what was expected; last read: {saved:?}",
                path.display()
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `topic` holds `value` retained.
pub fn wait_retained_value(port: u16, topic: &str, value: &str) {
    let deadline = Instant::now() + WAIT;
    while retained(port, topic).is_none_or(|m| m.text() != value) {
        assert!(Instant::now() < deadline, "{topic} never became {value:?}");
    }
}

/// Every retained message under `filter`, by topic.
pub fn retained_under(port: u16, filter: &str) -> std::collections::BTreeMap<String, Msg> {
    // Read up to a marker this reader publishes once subscribed: the broker sends the retained
    // messages a subscription brings before anything published after it, so when the marker
    // arrives, all of them have. No time window decides what "none" means.
    static MARKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MARKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let marker = format!("test-marker/{}/{n}", std::process::id());
    let mut peer = Peer::connect(port, &[filter, &marker]);
    peer.publish(&marker, "", false);
    let mut out = std::collections::BTreeMap::new();
    loop {
        let m = peer.wait_for("the reader's own marker", |_| true);
        if m.topic == marker {
            return out;
        }
        if m.retain {
            out.insert(m.topic.clone(), m);
        }
    }
}

/// Starts the bridge and waits until its discovery is out (availability `online` retained).
pub fn start_bridge(broker: &Mosquitto, config_text: &str) -> (BridgeProcess, Peer) {
    let mut ha = Peer::connect(broker.port, &["homeassistant/#", "solarcam/#"]);
    let bridge = BridgeProcess::start(config_text);
    ha.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });
    // States follow availability, camera by camera; the last one's closes the announcement, so
    // the test sees only what it causes.
    if let Some(last) = last_announced(config_text) {
        ha.next_on(&last);
    }
    (bridge, ha)
}

/// The topic the bridge's start-up announcement ends with: the last camera's pending commands.
fn last_announced(config_text: &str) -> Option<String> {
    let c = solarcam_bridge::config::Config::parse(config_text, "test", None).ok()?;
    let last = c.cameras.iter().map(|c| c.mac).max()?;
    Some(format!("{}/{last}/pending_commands", c.base_topic))
}

/// A stand-in for Home Assistant's Supervisor: a real HTTP server on a free loopback port that
/// answers `GET /services/mqtt` with `mqtt` (the documented JSON) to the right bearer token, and
/// 401 to any other. Records every request's head.
pub struct Supervisor {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Supervisor {
    pub fn start(token: &str, mqtt: serde_json::Value) -> Supervisor {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let expected = format!("authorization: bearer {token}");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                seen.lock().unwrap().push(head.clone());
                let authorized = head
                    .lines()
                    .any(|l| l.trim().eq_ignore_ascii_case(&expected));
                let (status, body) = if !authorized {
                    (
                        "401 Unauthorized",
                        r#"{"result": "error", "message": "Unauthorized"}"#.to_string(),
                    )
                } else if head.starts_with("GET /services/mqtt ") {
                    (
                        "200 OK",
                        serde_json::json!({"result": "ok", "data": mqtt}).to_string(),
                    )
                } else {
                    (
                        "404 Not Found",
                        r#"{"result": "error", "message": "Not found"}"#.to_string(),
                    )
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Supervisor { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The Supervisor's description of a Mosquitto on loopback `port` with this login.
pub fn mqtt_service(port: u16, user: &str, password: &str) -> serde_json::Value {
    serde_json::json!({
        "host": "127.0.0.1", "port": port, "ssl": false, "protocol": "3.1.1",
        "username": user, "password": password,
    })
}

/// Add-on options as the Supervisor writes them (`json.dumps(indent=2)`).
pub fn options_json(options: &serde_json::Value) -> String {
    serde_json::to_string_pretty(options).unwrap()
}

//! A real Mosquitto per test, on a free loopback port with a configuration file of its own,
//! stopped when dropped. Shared by the integration tests and benches (through `common`) and by
//! the shell's unit tests (`src/service/mqtt.rs` includes this file), so there is one way to run
//! one. Only std and tempfile.

#![allow(dead_code)] // each user takes its own part of this

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Mosquitto broker of the test's own, stopped when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    conf: PathBuf,
    pub dir: tempfile::TempDir,
}

fn mosquitto_binary() -> &'static str {
    if Path::new("/usr/sbin/mosquitto").exists() {
        "/usr/sbin/mosquitto"
    } else {
        "mosquitto"
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Self::start_with("allow_anonymous true\n", |_| {})
    }

    /// A broker that only takes `user` with `password`.
    pub fn with_password(user: &str, password: &str) -> Mosquitto {
        let (user, password) = (user.to_string(), password.to_string());
        Self::start_with(
            "allow_anonymous false\npassword_file passwords\n",
            move |dir| {
                let file = dir.join("passwords");
                std::fs::write(&file, "").unwrap();
                let ok = Command::new("mosquitto_passwd")
                    .args(["-b", file.to_str().unwrap(), &user, &password])
                    .status()
                    .expect("mosquitto_passwd (package mosquitto) is needed for this test");
                assert!(ok.success());
            },
        )
    }

    fn start_with(settings: &str, prepare: impl Fn(&Path)) -> Mosquitto {
        // Another process may take the port between our probe and Mosquitto's bind: try again.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            prepare(dir.path());
            let port = free_port();
            let settings = settings.replace(
                "password_file passwords",
                &format!("password_file {}", dir.path().join("passwords").display()),
            );
            let conf = dir.path().join("mosquitto.conf");
            let settings = settings.replace("DIR", &dir.path().display().to_string());
            let persistence = if settings.contains("persistence true") {
                ""
            } else {
                "persistence false\n"
            };
            std::fs::write(
                &conf,
                format!("listener {port} 127.0.0.1\n{persistence}user root\nlog_dest stderr\nlog_type error\nlog_type warning\n{settings}"),
            )
            .unwrap();
            if let Some(child) = Self::spawn(&conf, port) {
                return Mosquitto {
                    child,
                    port,
                    conf,
                    dir,
                };
            }
        }
        panic!("mosquitto did not start");
    }

    fn spawn(conf: &Path, port: u16) -> Option<Child> {
        let mut child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is needed for the integration tests: apt-get install mosquitto");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(child);
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// A broker tuned for measuring, not for limits: no Nagle delay, no queue or in-flight caps
    /// that would drop or throttle what a slower client has not taken yet.
    pub fn for_benchmarks() -> Mosquitto {
        Self::start_with(
            "allow_anonymous true\nset_tcp_nodelay true\nmax_queued_messages 0\nmax_inflight_messages 0\n",
            |_| {},
        )
    }

    /// A broker that takes only `users` (name, password), each limited by the Mosquitto ACL file
    /// at `acl`, as `packaging/mosquitto/solarcam.conf` sets one up.
    pub fn with_acl(users: &[(&str, &str)], acl: &Path) -> Mosquitto {
        let users: Vec<(String, String)> = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        let acl = acl.to_path_buf();
        Self::start_with(
            "allow_anonymous false\npassword_file passwords\nacl_file DIR/acl\n",
            move |dir| {
                std::fs::copy(&acl, dir.join("acl")).unwrap();
                let file = dir.join("passwords");
                std::fs::write(&file, "").unwrap();
                for (user, password) in &users {
                    let ok = Command::new("mosquitto_passwd")
                        .args(["-b", file.to_str().unwrap(), user, password])
                        .status()
                        .expect("mosquitto_passwd (package mosquitto) is needed for this test");
                    assert!(ok.success());
                }
            },
        )
    }

    /// A broker with these lines of Mosquitto configuration (anonymous access allowed).
    pub fn with_settings(settings: &str) -> Mosquitto {
        Self::start_with(&format!("allow_anonymous true\n{settings}"), |_| {})
    }

    /// A broker that keeps sessions and retained messages across its restarts.
    pub fn persistent() -> Mosquitto {
        Self::start_with(
            "allow_anonymous true\npersistence true\npersistence_location DIR/\n",
            |_| {},
        )
    }

    /// A TLS listener that also requires a client certificate signed by the test CA.
    pub fn tls_with_client_certificates(certs: &Path) -> Mosquitto {
        let c = certs.display();
        let settings = format!("allow_anonymous true\ncafile {c}/ca.pem\ncertfile {c}/server.pem\nkeyfile {c}/server.key\nrequire_certificate true\n");
        Self::start_with(&settings, |_| {})
    }

    /// A TLS listener with the certificate and key in `dir` (see `make_certificates`).
    pub fn tls(certs: &Path) -> Mosquitto {
        let c = certs.display();
        let settings = format!("allow_anonymous true\ncafile {c}/ca.pem\ncertfile {c}/server.pem\nkeyfile {c}/server.key\n");
        Self::start_with(&settings, |_| {})
    }

    /// Stops the broker as an administrator would (SIGTERM: a persistent one saves its state).
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// Starts it again, on the same port with the same configuration.
    pub fn restart(&mut self) {
        self.child = Self::spawn(&self.conf, self.port).expect("mosquitto did not restart");
    }

    /// The broker's process id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stops the broker (for outage tests); the port stays reserved by nobody.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

//! AWS IoT Core as the camera broker: MQTT over TLS with a client certificate on port 8883, or on
//! port 443 only when the handshake offers the ALPN protocol `x-amzn-mqtt-ca`. The test's front
//! behaves as that port does (no ALPN, no MQTT) and carries what it admits to a Mosquitto.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;

const AWS_ALPN: &[u8] = b"x-amzn-mqtt-ca";

/// A TLS front on a free port: it wants a client certificate of the test CA and the ALPN
/// protocol `x-amzn-mqtt-ca`, and closes any other connection after the handshake (counted).
struct AwsLikeFront {
    port: u16,
    refused: Arc<AtomicUsize>,
    admitted: Arc<AtomicUsize>,
}

impl AwsLikeFront {
    fn start(certs: &std::path::Path, upstream: u16) -> AwsLikeFront {
        Self::start_on(certs, upstream, "127.0.0.1:0")
    }

    /// The front on `address` (port 0: a free one).
    fn start_on(certs: &std::path::Path, upstream: u16, address: &str) -> AwsLikeFront {
        let pem = |name: &str| std::fs::read(certs.join(name)).unwrap();
        let chain: Vec<_> = rustls_pemfile::certs(&mut pem("server.pem").as_slice())
            .map(Result::unwrap)
            .collect();
        let key = rustls_pemfile::private_key(&mut pem("server.key").as_slice())
            .unwrap()
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for ca in rustls_pemfile::certs(&mut pem("ca.pem").as_slice()) {
            roots.add(ca.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![AWS_ALPN.to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind(address)
            .unwrap_or_else(|e| panic!("the front cannot listen on {address}: {e}"));
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let refused = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let (r, a) = (refused.clone(), admitted.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (acceptor, r, a) = (acceptor.clone(), r.clone(), a.clone());
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            r.fetch_add(1, Ordering::SeqCst);
                            return;
                        };
                        if tls.get_ref().1.alpn_protocol() != Some(AWS_ALPN) {
                            // Port 443 without the protocol name is HTTPS, not MQTT.
                            r.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        a.fetch_add(1, Ordering::SeqCst);
                        let Ok(mut up) =
                            tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                        else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                    });
                }
            });
        });
        AwsLikeFront {
            port,
            refused,
            admitted,
        }
    }
}

#[test]
fn the_camera_broker_on_port_443_is_reached_with_alpn_x_amzn_mqtt_ca() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let ha_broker = Mosquitto::start();
    let cam_broker = Mosquitto::start();
    let front = AwsLikeFront::start(certs.path(), cam_broker.port);
    let c = certs.path().display();
    let config = |client_id: &str, alpn: &str| {
        format!(
            "mqtt:\n  url: {}\ncamera_mqtt:\n  url: mqtts://127.0.0.1:{}\n  client_id: {client_id}\n  ca_file: {c}/ca.pem\n  client_cert: {c}/client.pem\n  client_key: {c}/client.key\n{alpn}cameras:\n  - mac: {DRIVEWAY}\n",
            ha_broker.url(),
            front.port
        )
    };

    // Without the protocol name the front closes the connection after the handshake, as AWS's
    // port 443 does: the bridge says it cannot connect and keeps Home Assistant's side working.
    let (without, _ha) = start_bridge(&ha_broker, &config("no-alpn", ""));
    without.wait_log(&["camera broker: cannot connect to mqtts://127.0.0.1"]);
    wait_retained_value(ha_broker.port, "solarcam/bridge/camera_broker", "OFF");
    assert!(front.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(front.admitted.load(Ordering::SeqCst), 0);
    drop(without);

    let (bridge, _ha) = start_bridge(&ha_broker, &config("with-alpn", "  alpn: x-amzn-mqtt-ca\n"));
    bridge.wait_log(&["camera broker: subscribed"]);
    assert_eq!(front.admitted.load(Ordering::SeqCst), 1);
    // A camera's status, published to the broker behind the front, reaches Home Assistant.
    let camera = Peer::connect(cam_broker.port, &[]);
    camera.publish(
        "4GSolarCam/Status",
        format!(r#"{{"mac":"{DRIVEWAY}","battery":64}}"#),
        false,
    );
    wait_retained_value(ha_broker.port, "solarcam/5CC5638AE24C/battery", "64");
    wait_retained_value(ha_broker.port, "solarcam/bridge/camera_broker", "ON");
}

/// Where the hint comes from: a real connection to port 443, closed after the handshake as AWS's
/// port 443 closes one without `x-amzn-mqtt-ca`. Port 443 is privileged and may be taken, so the
/// test runs itself again in a network namespace of its own (`unshare --user --net`, as root
/// inside it: no root needed outside), where its loopback's 443 is free; Home Assistant's side
/// is the bridge's embedded broker, inside too.
#[test]
fn without_alpn_a_connection_closed_on_port_443_is_logged_with_the_alpn_hint() {
    const INSIDE: &str = "SOLARCAM_TEST_IN_NETNS";
    let name = "without_alpn_a_connection_closed_on_port_443_is_logged_with_the_alpn_hint";
    if std::env::var_os(INSIDE).is_none() {
        let out = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--net", "--", "sh", "-c"])
            .arg("ip link set lo up && exec \"$0\" --exact \"$1\" --nocapture")
            .arg(std::env::current_exe().unwrap())
            .arg(name)
            .env(INSIDE, "1")
            .output()
            .expect("unshare (util-linux)");
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        eprintln!("{text}");
        assert!(out.status.success(), "in its own network namespace: {text}");
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let front = AwsLikeFront::start_on(certs.path(), 1, "127.0.0.1:443");
    let c = certs.path().display();
    let port = free_port();
    let bridge = BridgeProcess::start(&format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\ncamera_mqtt:\n  url: mqtts://localhost:443\n  ca_file: {c}/ca.pem\n  client_cert: {c}/client.pem\n  client_key: {c}/client.key\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    let line = bridge.wait_log(&[
        "camera broker: cannot connect to mqtts://localhost:443",
        "if it is AWS IoT Core, port 443 takes MQTT only with `alpn: x-amzn-mqtt-ca`",
    ]);
    eprintln!("{line}");
    assert!(front.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(front.admitted.load(Ordering::SeqCst), 0);
}

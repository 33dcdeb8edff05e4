//! The container images, run by Docker against real Mosquitto brokers on this machine.
//!
//! These need Docker and the images `packaging/container/build.sh` loads, so they are ignored in
//! a plain `cargo test`; `packaging/container/test.sh` builds the images and runs them (and
//! `scripts/test` runs that script).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn image(suffix: &str) -> String {
    format!("solarcam-bridge:{VERSION}{suffix}")
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker is needed for these tests")
}

/// A container of the test's own, removed when dropped.
struct Container {
    name: String,
    process: BridgeProcess,
}

impl Container {
    /// `docker run` in the foreground (its output is the test's log), on the host's network so
    /// the loopback brokers and Supervisor are reachable.
    fn run(args: &[String], dir: tempfile::TempDir) -> Container {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "solarcam-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut cmd = Command::new("docker");
        cmd.args(["run", "--rm", "--name", &name, "--network", "host"])
            .args(args)
            .arg(image(""));
        let config = dir.path().join("config");
        Container {
            name,
            process: BridgeProcess::spawn(cmd, dir, config),
        }
    }

    /// `docker run` with `config_dir` and `data_dir` mounted on /config and /data, once the bridge
    /// in it has said it is online on `broker`.
    fn run_online(
        broker: &Mosquitto,
        args: &[String],
        config_dir: &Path,
        data_dir: &Path,
        dir: tempfile::TempDir,
    ) -> Container {
        let mut ha = Peer::connect(broker.port, &["solarcam/bridge/availability"]);
        let mut all: Vec<String> = args.to_vec();
        all.extend([
            "-v".into(),
            format!("{}:/config", config_dir.display()),
            "-v".into(),
            format!("{}:/data", data_dir.display()),
        ]);
        let container = Container::run(&all, dir);
        ha.wait_for("availability online", |m| m.text() == "online");
        container
    }

    /// `docker stop`: how long it took, and how the process ended.
    fn stop(&mut self) -> (Duration, std::process::ExitStatus) {
        let started = Instant::now();
        let out = docker(&["stop", "--time", "10", &self.name]);
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = self.process.wait_exit(WAIT).expect("docker run ends");
        (took, status)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "--force", &self.name]);
    }
}

/// `config/` (its config.yaml for `broker`) and `data/` in `dir`, as a user lays them out for
/// `-v ./config:/config -v ./data:/data`: readable by all, as folders under a home usually are.
fn mounted_folders(dir: &Path, broker: &Mosquitto) -> (std::path::PathBuf, std::path::PathBuf) {
    let (config_dir, data_dir) = (dir.join("config"), dir.join("data"));
    std::fs::create_dir(&config_dir).unwrap();
    std::fs::create_dir(&data_dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(config_dir.join("config.yaml"), config_for(broker, "")).unwrap();
    (config_dir, data_dir)
}

fn owner(path: &Path) -> u32 {
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap())
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn the_image_runs_on_a_mounted_config_yaml_as_an_unprivileged_user() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (config_dir, data_dir) = mounted_folders(dir.path(), &broker);
    // A data folder Docker created: owned by root, closed to others.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();

    let mut container = Container::run_online(&broker, &[], &config_dir, &data_dir, dir);
    // Both listed cameras appear, with the file's names.
    for (mac, name) in [(DRIVEWAY, "Driveway"), (BARN, "Barn")] {
        let topic = format!(
            "homeassistant/device/solarcam_{}/config",
            mac.to_lowercase()
        );
        assert_eq!(
            wait_retained(broker.port, &topic).json()["device"]["name"],
            name
        );
    }
    // A camera not in the file appears by itself and is remembered in /data, by UID 65532.
    let unlisted = "5CC5638AE24E";
    let _camera = Simulator::start(broker.port, unlisted, &["--once"]);
    let state = data_dir.join("state.json");
    wait_for_file_containing(&state, unlisted);
    assert_eq!(owner(&data_dir), 65532);
    assert_eq!(owner(&state), 65532);
    let log = container.process.log().join("\n");
    assert!(
        log.contains("container mode, running as UID 65532, state in /data"),
        "{log}"
    );

    // An edit of the mounted file is taken at once, as anywhere else.
    let edited = config_for(&broker, "").replace("name: Barn", "name: Old barn");
    std::fs::write(config_dir.join("config.yaml"), edited).unwrap();
    let topic = "homeassistant/device/solarcam_5cc5638ae24d/config";
    let deadline = Instant::now() + WAIT;
    while retained(broker.port, topic).is_none_or(|m| m.json()["device"]["name"] != "Old barn") {
        assert!(Instant::now() < deadline, "the edit was not applied");
    }

    let (took, status) = container.stop();
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    assert_eq!(status.code(), Some(0), "{status:?}");
    wait_retained_value(broker.port, "solarcam/bridge/availability", "offline");
    eprintln!("docker stop: {took:?}");
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn started_with_user_the_image_runs_as_that_user_changes_no_owner_and_logs_on_stdout() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (config_dir, data_dir) = mounted_folders(dir.path(), &broker);
    // The user's own data folder, which the bridge must not take for UID 65532.
    std::os::unix::fs::chown(&data_dir, Some(1000), Some(1000)).unwrap();
    let mut container = Container::run_online(
        &broker,
        &["--user".into(), "1000:1000".into()],
        &config_dir,
        &data_dir,
        dir,
    );
    let _camera = Simulator::start(broker.port, "5CC5638AE24E", &["--once"]);
    let state = data_dir.join("state.json");
    wait_for_file_containing(&state, "5CC5638AE24E");
    assert_eq!((owner(&data_dir), owner(&state)), (1000, 1000));

    // The log is the container's stdout (`docker logs` and the add-on's Log tab read it);
    // nothing goes to its stderr.
    let logs = docker(&["logs", &container.name]);
    let stdout = String::from_utf8_lossy(&logs.stdout);
    let stderr = String::from_utf8_lossy(&logs.stderr);
    assert!(
        stdout.contains("container mode, running as UID 1000, state in /data"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Home Assistant broker: connected to"),
        "{stdout}"
    );
    assert_eq!(stderr, "", "on stderr");

    let (_, status) = container.stop();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(owner(&data_dir), 1000);
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn the_image_trusts_its_own_ca_bundle_for_mqtts() {
    // What the image ships: the CA roots at the path rustls-native-certs reads.
    let dir = tempfile::tempdir().unwrap();
    let created = docker(&["create", &image("")]);
    assert!(created.status.success());
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let bundle = dir.path().join("shipped.crt");
    let copied = docker(&[
        "cp",
        &format!("{id}:/etc/ssl/certs/ca-certificates.crt"),
        bundle.to_str().unwrap(),
    ]);
    let _ = docker(&["rm", &id]);
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let roots = std::fs::read_to_string(&bundle)
        .unwrap()
        .matches("-----BEGIN CERTIFICATE-----")
        .count();
    eprintln!("the image ships {roots} CA certificates");
    assert!(roots > 100, "{roots} CA certificates in the image");

    // And the bridge in it trusts that file without `ca_file`: with a bundle holding the test
    // CA in its place, an mqtts:// broker signed by that CA is connected to.
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(certs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        certs.path().join("ca.pem"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let broker = Mosquitto::tls(certs.path());
    let config_dir = dir.path().join("config");
    std::fs::create_dir(&config_dir).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        config_dir.join("config.yaml"),
        format!(
            "mqtt:\n  url: mqtts://127.0.0.1:{}\ncameras:\n  - mac: {DRIVEWAY}\n",
            broker.port
        ),
    )
    .unwrap();
    let container = Container::run(
        &[
            "-v".into(),
            format!("{}:/config", config_dir.display()),
            "-v".into(),
            format!(
                "{}:/etc/ssl/certs/ca-certificates.crt:ro",
                certs.path().join("ca.pem").display()
            ),
        ],
        dir,
    );
    container
        .process
        .wait_log(&["Home Assistant broker: connected to mqtts://127.0.0.1"]);
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn the_image_as_an_addon_takes_the_broker_from_the_supervisor() {
    const TOKEN: &str = "addon-token-in-docker";
    const PASSWORD: &str = "addons-docker-password";
    let broker = Mosquitto::with_password("addons", PASSWORD);
    let supervisor = Supervisor::start(TOKEN, mqtt_service(broker.port, "addons", PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    // The Supervisor's /data: owned by root, with the options in it.
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let options = json!({
        "cameras": [{"mac": DRIVEWAY, "name": "Driveway", "area": "Garden"}],
        "alarm_off_after": 30,
        "awake_timeout": 180,
        "log_level": "info"
    });
    std::fs::write(data_dir.join("options.json"), options_json(&options)).unwrap();

    let mut container = Container::run(
        &[
            "-e".into(),
            format!("SUPERVISOR_TOKEN={TOKEN}"),
            "-e".into(),
            format!("SUPERVISOR_URL={}", supervisor.url()),
            "-v".into(),
            format!("{}:/data", data_dir.display()),
        ],
        dir,
    );
    let mut peer = Peer::connect_as(broker.port, &["solarcam/#"], Some(("addons", PASSWORD)));
    peer.wait_for("availability online", |m| {
        m.topic == "solarcam/bridge/availability" && m.text() == "online"
    });
    let topic = "homeassistant/device/solarcam_5cc5638ae24c/config";
    let config = wait_retained_as(broker.port, topic, ("addons", PASSWORD));
    assert_eq!(config.json()["device"]["suggested_area"], "Garden");

    // An unlisted camera on Home Assistant's broker: remembered in the Supervisor's /data, which
    // stays root's.
    let _camera = Simulator::start(
        broker.port,
        BARN,
        &["--username", "addons", "--password", PASSWORD, "--once"],
    );
    let state = data_dir.join("state.json");
    wait_for_file_containing(&state, BARN);
    assert_eq!(owner(&data_dir), 0);
    let requests = supervisor.requests.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("GET /services/mqtt ")),
        "{requests:?}"
    );

    let (took, status) = container.stop();
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let log = container.process.log().join("\n");
    assert!(
        log.contains("Home Assistant add-on mode, running as UID 0"),
        "{log}"
    );
    assert!(!log.contains(PASSWORD) && !log.contains(TOKEN), "{log}");
    eprintln!("docker stop (add-on): {took:?}");
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn without_a_configuration_the_image_says_what_to_mount() {
    let dir = tempfile::tempdir().unwrap();
    let mut container = Container::run(&[], dir);
    let status = container.process.wait_exit(WAIT).expect("exits");
    assert!(!status.success());
    let log = container.process.log().join("\n");
    assert!(
        log.contains("/config/config.yaml not found: mount your configuration there"),
        "{log}"
    );
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn the_arm_images_are_for_arm_and_start_under_qemu() {
    for (suffix, arch, variant, qemu) in [
        ("-aarch64", "arm64", "", "qemu-aarch64"),
        ("-armv7", "arm", "v7", "qemu-arm"),
    ] {
        let out = docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}/{{.Variant}}",
            &image(suffix),
        ]);
        assert!(out.status.success(), "{}: not loaded", image(suffix));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("linux/{arch}/{variant}")
        );
        // packaging/container/test.sh registers qemu: without it this check would pass having
        // started nothing.
        assert!(
            Path::new("/proc/sys/fs/binfmt_misc").join(qemu).exists(),
            "{qemu} is not registered with binfmt_misc: {} cannot be started",
            image(suffix)
        );
        let out = docker(&["run", "--rm", &image(suffix), "--version"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("solarcam-bridge {VERSION}"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `docker compose` (the plugin) or `docker-compose` (Debian's).
fn compose(
    project_dir: &Path,
    project: &str,
    env: &[(&str, String)],
    args: &[&str],
) -> std::process::Output {
    let plugin = docker(&["compose", "version"]).status.success();
    let mut cmd = if plugin {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    };
    cmd.current_dir(project_dir)
        .args(["-p", project, "-f", "compose.yaml"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("docker compose or docker-compose is needed for this test")
}

/// A compose project of the test's own, taken down (with its volumes) when dropped.
struct ComposeProject<'a> {
    dir: &'a Path,
    name: &'a str,
    env: &'a [(&'a str, String)],
}

impl ComposeProject<'_> {
    fn run(&self, args: &[&str]) -> std::process::Output {
        compose(self.dir, self.name, self.env, args)
    }
}

impl Drop for ComposeProject<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["down", "--volumes", "--timeout", "5"]);
    }
}

#[test]
#[ignore = "needs Docker, docker compose and the images of packaging/container/test.sh"]
fn the_compose_example_brings_up_mosquitto_and_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/container/compose");
    std::fs::create_dir(dir.path().join("config")).unwrap();
    for file in ["compose.yaml", "mosquitto.conf", "config/config.yaml"] {
        std::fs::copy(src.join(file), dir.path().join(file)).unwrap();
    }
    let port = free_port();
    let project = format!("solarcam-compose-{}", std::process::id());
    let env = [
        // eclipse-mosquitto cannot be pulled here: Debian's Mosquitto in an image of its own.
        ("MOSQUITTO_IMAGE", "solarcam-test-mosquitto".to_string()),
        ("MQTT_PORT", port.to_string()),
        // No SOLARCAM_IMAGE: the published multi-arch name, as a user runs it (build.sh tags this
        // machine's image with it, so nothing is pulled).
    ];
    let compose_project = ComposeProject {
        dir: dir.path(),
        name: &project,
        env: &env,
    };
    let up = compose_project.run(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    // Mosquitto answers on the published port; the bridge, on the compose network, is online.
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_retained_value(port, "solarcam/bridge/availability", "online");
    // A camera on the network publishes to the host's port: it appears by itself.
    let _camera = Simulator::start(port, DRIVEWAY, &["--once"]);
    let config = wait_retained(port, "homeassistant/device/solarcam_5cc5638ae24c/config");
    assert_eq!(config.json()["device"]["model"], "SC211");

    let stop = Instant::now();
    let out = compose_project.run(&["stop", "--timeout", "10"]);
    let took = stop.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = compose_project.run(&["logs", "--no-color", "solarcam-bridge"]);
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(
        logs.contains("container mode, running as UID 65532"),
        "{logs}"
    );
    assert!(logs.contains("stopped"), "{logs}");
    eprintln!("docker compose stop (both services): {took:?}");

    // `down` takes away what `up` made: containers, network and volumes.
    let down = compose_project.run(&["down", "--volumes", "--timeout", "5"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let label = format!("label=com.docker.compose.project={project}");
    for kind in ["container", "network", "volume"] {
        let listed = match kind {
            "container" => docker(&["ps", "--all", "--quiet", "--filter", &label]),
            other => docker(&[other, "ls", "--quiet", "--filter", &label]),
        };
        assert!(listed.status.success());
        assert_eq!(
            String::from_utf8_lossy(&listed.stdout).trim(),
            "",
            "{kind}s of {project} left after down"
        );
    }
}

/// The container's health as Docker sees it.
fn docker_health(name: &str) -> String {
    let out = docker(&["inspect", "--format", "{{.State.Health.Status}}", name]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_docker_health(name: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = docker_health(name);
        if status == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became {wanted}: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn a_container_whose_broker_disappears_turns_unhealthy_and_healthy_again() {
    let mut broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    std::fs::create_dir(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.yaml"), config_for(&broker, "")).unwrap();
    // The image's own HEALTHCHECK command, checked every second instead of every 30 s.
    let container = Container::run(
        &[
            "-v".into(),
            format!("{}:/config", config_dir.display()),
            "--health-interval=1s".into(),
            "--health-retries=1".into(),
            "--health-start-period=0s".into(),
        ],
        dir,
    );
    wait_docker_health(&container.name, "healthy");
    broker.stop();
    wait_docker_health(&container.name, "unhealthy");
    let out = docker(&[
        "inspect",
        "--format",
        "{{(index .State.Health.Log 0).Output}}",
        &container.name,
    ]);
    let last = docker(&[
        "inspect",
        "--format",
        "{{range .State.Health.Log}}{{.Output}}{{end}}",
        &container.name,
    ]);
    let said = String::from_utf8_lossy(&last.stdout);
    assert!(
        said.contains("unhealthy: not connected to Home Assistant's broker"),
        "{said} / {}",
        String::from_utf8_lossy(&out.stdout)
    );
    broker.restart();
    wait_docker_health(&container.name, "healthy");
}

/// Berlin's date and `HHMM` now, as the host's tzdata says.
fn berlin_now() -> (String, String) {
    let out = Command::new("date")
        .args(["+%Y-%m-%d %H%M"])
        .env("TZ", "Europe/Berlin")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (day, time) = text.trim().split_once(' ').unwrap();
    (day.to_string(), time.to_string())
}

#[test]
#[ignore = "needs Docker and the images of packaging/container/build.sh (packaging/container/test.sh)"]
fn the_image_names_archived_snapshots_in_the_local_time_of_its_tz() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&config_dir).unwrap();
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::write(
        config_dir.join("config.yaml"),
        config_for(&broker, "archive:\n  dir: /data/archive\n"),
    )
    .unwrap();
    let _container = Container::run_online(
        &broker,
        &["-e".into(), "TZ=Europe/Berlin".into()],
        &config_dir,
        &data_dir,
        dir,
    );
    let before = berlin_now();
    let camera = Peer::connect(broker.port, &[]);
    let img = jpeg();
    camera.publish("4GSolarCam/Snapshot/5CC5638AE24C", img.clone(), false);
    let folder = data_dir.join("archive/driveway");
    let file = wait_for_archived_jpeg(&folder);
    let after = berlin_now();
    let day = file
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(std::fs::read(&file).unwrap(), img);
    // Named by Berlin's clock (a minute's turn between the two readings allowed).
    assert!(
        [&before, &after]
            .iter()
            .any(|(d, hm)| day == d.as_str() && name.starts_with(hm.as_str())),
        "{day}/{name}, Berlin {before:?}..{after:?}"
    );
}

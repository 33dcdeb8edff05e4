//! The command line: parses it, sets up logging, and starts what was asked for. Every command
//! returns `Result<(), Failure>`; `main` alone prints a failure and picks the exit status.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use solarcam_bridge::config::{BrokerUrl, Config, Level, Secret, DEFAULT_PATH};
use solarcam_bridge::container::{self, RunAs};
use solarcam_bridge::logging;
use solarcam_bridge::mac::Mac;
use solarcam_bridge::protocol::CameraTopics;
use solarcam_bridge::simulator::TopicSetting;

/// Bridges Milesight SC211 4G solar cameras to Home Assistant over MQTT, with discovery.
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: ConfigArg,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// The configuration file.
    #[arg(long, short, value_name = "PATH", default_value = DEFAULT_PATH)]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bridge (the default).
    Run(ConfigArg),
    /// Check the configuration file: a one-line summary, or every error with its line.
    CheckConfig(ConfigArg),
    /// Try it with nothing else installed: an MQTT broker, a virtual camera and the bridge in one
    /// process, printing what Home Assistant would show.
    Demo {
        /// Where the demo's broker listens (0.0.0.0:1883 to let Home Assistant on another machine in,
        /// with --allow-anonymous).
        #[arg(long, default_value = "127.0.0.1:1883")]
        listen: SocketAddr,
        /// Let clients from other machines connect without a login (the demo's broker has none).
        #[arg(long)]
        allow_anonymous: bool,
        /// Where the latest snapshot is written.
        #[arg(long, default_value = "demo-snapshot.jpg")]
        snapshot_file: PathBuf,
        /// Seconds between the virtual camera's alarms.
        #[arg(long, default_value_t = 15)]
        alarm_every: u64,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long, value_name = "SECONDS")]
        r#for: Option<u64>,
    },
    /// Run a virtual SC211 camera against a broker: it sleeps, wakes on command, reports its
    /// status, and sends alarms followed by snapshots.
    Simulate {
        /// The broker, e.g. mqtt://127.0.0.1:1883.
        #[arg(long)]
        broker: BrokerUrl,
        #[arg(long)]
        username: Option<String>,
        /// Or set SOLARCAM_SIM_PASSWORD, which keeps it out of the process list.
        #[arg(long, env = "SOLARCAM_SIM_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// The camera's MAC address, in any spelling.
        #[arg(long, default_value = "5CC5638AE24C")]
        mac: Mac,
        /// The cameras' topic root.
        #[arg(long, default_value = solarcam_bridge::config::DEFAULT_CAMERA_TOPIC_PREFIX)]
        prefix: String,
        /// A topic as set in the camera's web page, KIND=TOPIC (snapshot, status, alarm,
        /// config_request, config_respond); the others stay under the prefix.
        #[arg(long, value_name = "KIND=TOPIC")]
        topic: Vec<TopicSetting>,
        /// Send snapshots in the newer firmware's JSON envelope.
        #[arg(long)]
        envelope: bool,
        /// Send an alarm and a snapshot every this many seconds.
        #[arg(long, value_name = "SECONDS")]
        alarm_every: Option<u64>,
        /// Send one alarm and snapshot right after connecting.
        #[arg(long)]
        once: bool,
        /// Seconds the camera stays awake after it is woken.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        awake_for: u64,
    },
    /// Run in the container image: as a Home Assistant add-on when the Supervisor is there (its
    /// SUPERVISOR_TOKEN), else on /config/config.yaml; state in /data, the log on stdout.
    Container {
        /// The state directory (and the add-on's options.json).
        #[arg(long, value_name = "DIR", default_value = "/data")]
        data: PathBuf,
        /// The configuration file, outside add-on mode.
        #[arg(long, value_name = "PATH", default_value = "/config/config.yaml")]
        config: PathBuf,
        /// Who to run as when started as root outside add-on mode: UID:GID, or root.
        #[arg(long, value_name = "UID:GID", default_value_t = container::DEFAULT_USER)]
        user: RunAs,
        /// Home Assistant's media folder, in add-on mode (the archive goes to its solarcam/).
        #[arg(long, value_name = "DIR", default_value = "/media")]
        media: PathBuf,
        /// Home Assistant's certificates, in add-on mode (the camera broker's CA and client files).
        #[arg(long, value_name = "DIR", default_value = "/ssl")]
        ssl: PathBuf,
    },
    /// Ask the running bridge whether it is well: exits 0 while its main loop answers and it is
    /// connected to Home Assistant's broker, 1 otherwise (for a container's HEALTHCHECK).
    Health {
        /// The bridge's state directory (default: the configuration's, else $STATE_DIRECTORY,
        /// else /var/lib/solarcam-bridge).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// The configuration file, to find the state directory in.
        #[arg(long, short, value_name = "PATH", default_value = DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Extract the JPEG from a saved snapshot payload (raw, with a header, hex dump, base64, JSON).
    Decode {
        /// The saved payload; `-` reads standard input.
        input: PathBuf,
        /// Where to write the JPEG (default: beside the input, as .jpg).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Why a command failed, in words that say what to do; `main` prints it, once.
enum Failure {
    /// On standard error, exit status 1.
    Error(String),
    /// `health`'s answer when the bridge is not well: on standard output like a healthy answer
    /// (a container's HEALTHCHECK log shows it), exit status 1.
    Unhealthy(String),
}

impl Failure {
    fn error(e: impl std::fmt::Display) -> Failure {
        Failure::Error(e.to_string())
    }
}

fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Error(message)) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
        Err(Failure::Unhealthy(answer)) => {
            println!("{answer}");
            ExitCode::FAILURE
        }
    }
}

/// `health`: the bridge's answer on its socket; success only when it is healthy.
fn health(state_dir: Option<PathBuf>, config: &Path) -> Result<(), Failure> {
    use solarcam_bridge::service::{health, state_dir as default_state_dir};
    let dir = state_dir.unwrap_or_else(|| default_state_dir(Config::load(config).ok().as_ref()));
    let answer = health::check(&dir).map_err(|e| Failure::Unhealthy(e.to_string()))?;
    println!("{answer}");
    Ok(())
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Some(Command::CheckConfig(arg)) => check_config(&arg.config),
        Some(Command::Run(arg)) => run(arg.config),
        Some(Command::Container {
            data,
            config,
            user,
            media,
            ssl,
        }) => container(container::Paths {
            data,
            config,
            user,
            shares: solarcam_bridge::addon::Shares { media, ssl },
        }),
        None => run(cli.run.config),
        Some(Command::Health { state_dir, config }) => health(state_dir, &config),
        Some(Command::Decode { input, output }) => {
            let decoded =
                solarcam_bridge::decode::decode(&input, output).map_err(Failure::error)?;
            println!("{}", decoded.summary);
            Ok(())
        }
        Some(Command::Simulate {
            broker,
            username,
            password,
            mac,
            prefix,
            topic,
            envelope,
            alarm_every,
            once,
            awake_for,
        }) => {
            let topics = topic.into_iter().fold(
                CameraTopics::under(&prefix),
                |t, TopicSetting(kind, topic)| t.with(kind, topic),
            );
            logging::init(None, "info");
            let opts = solarcam_bridge::simulator::SimulatorOptions {
                broker,
                username,
                password: password.map(Secret::new),
                mac,
                prefix,
                topics,
                envelope,
                alarm_every: alarm_every.map(Duration::from_secs),
                once,
                awake_for: Duration::from_secs(awake_for),
            };
            block_on(async {
                solarcam_bridge::simulator::run(opts).await;
                Ok::<(), std::convert::Infallible>(())
            })
        }
        Some(Command::Demo {
            listen,
            allow_anonymous,
            snapshot_file,
            alarm_every,
            r#for,
        }) => {
            // The demo's own view goes to stdout; of the logs, only what the camera does and problems.
            logging::init(None, "warn,solarcam_bridge::simulator=info");
            let opts = solarcam_bridge::demo::DemoOptions {
                listen,
                allow_anonymous,
                snapshot_file,
                alarm_every: Duration::from_secs(alarm_every.max(1)),
                run_for: r#for.map(Duration::from_secs),
            };
            block_on(solarcam_bridge::demo::run(opts))
        }
    }
}

fn check_config(path: &Path) -> Result<(), Failure> {
    let config = Config::load(path).map_err(Failure::error)?;
    println!("{}: OK: {}", path.display(), config.summary());
    Ok(())
}

fn run(path: PathBuf) -> Result<(), Failure> {
    let config = Config::load(&path).map_err(|errors| {
        Failure::Error(format!(
            "{errors}\n{}",
            solarcam_bridge::service::not_started(&format!(
                "fix the file and check it with `solarcam-bridge check-config --config {}`",
                path.display()
            ))
        ))
    })?;
    let log = logging::init(config.log_level.map(Level::as_str), "info");
    block_on(solarcam_bridge::service::run(path, config, log))
}

fn container(paths: container::Paths) -> Result<(), Failure> {
    let start = container::prepare(&paths).map_err(Failure::error)?;
    let log = logging::init_to(
        logging::Output::Stdout,
        start.config.log_level.map(Level::as_str),
        "info",
    );
    container::describe(&start);
    block_on(solarcam_bridge::service::run_until(
        start.watch,
        start.config,
        Some(log),
        std::future::pending(),
    ))
}

fn block_on<E: std::fmt::Display>(
    work: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Error(format!("solarcam-bridge: cannot start the runtime: {e}")))?;
    runtime
        .block_on(work)
        .map_err(|e| Failure::Error(format!("solarcam-bridge: {e}")))
}

//! Running in the container image: plain Docker, Compose, or a Home Assistant add-on.
//!
//! One entry point (`solarcam-bridge container`, the image's default command) for both:
//!
//! - **Add-on mode**, when the Supervisor's `SUPERVISOR_TOKEN` is in the environment: the options
//!   come from `/data/options.json` and Home Assistant's broker from the Supervisor
//!   ([`crate::addon`]). The process stays root, because the Supervisor creates `/data` owned by
//!   root (add-ons are confined by the Supervisor's AppArmor profile instead).
//! - **Plain container**: the configuration is `/config/config.yaml`, watched for edits like
//!   anywhere else. Started as root (the image's default), the process first takes ownership of
//!   `/data` for an unprivileged user and switches to it, so a bind mount created by Docker as
//!   root still works; started with `--user`, it runs as that user and changes nothing.
//!
//! Either way the state lives in `/data` and the log goes to stdout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::warn;

use crate::addon::{self, AddonError};
use crate::config::{Config, ConfigErrors, Secret};
use crate::service::not_started;

/// The unprivileged user and group the image runs as (the "nonroot" of distroless images).
pub const DEFAULT_UID: u32 = 65532;
pub const DEFAULT_USER: RunAs = RunAs::User {
    uid: DEFAULT_UID,
    gid: DEFAULT_UID,
};

/// Who the bridge becomes when started as root outside add-on mode (`--user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    /// Stays root (`root`, or user 0).
    Root,
    User {
        uid: u32,
        gid: u32,
    },
}

impl std::str::FromStr for RunAs {
    type Err = BadUser;

    /// `UID:GID`, `UID` (the group the same number), or `root`.
    fn from_str(s: &str) -> Result<RunAs, BadUser> {
        if s == "root" {
            return Ok(RunAs::Root);
        }
        let (u, g) = s.split_once(':').unwrap_or((s, s));
        match (u.parse(), g.parse()) {
            (Ok(0), _) => Ok(RunAs::Root),
            (Ok(uid), Ok(gid)) => Ok(RunAs::User { uid, gid }),
            _ => Err(BadUser(s.to_string())),
        }
    }
}

impl std::fmt::Display for RunAs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunAs::Root => f.write_str("root"),
            RunAs::User { uid, gid } => write!(f, "{uid}:{gid}"),
        }
    }
}

/// Which way the container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The Supervisor's token is there: options from the add-on's Configuration tab.
    Addon,
    /// A plain container on a mounted configuration file.
    Container,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Addon => "Home Assistant add-on",
            Mode::Container => "container",
        })
    }
}

/// Where the container keeps its things; all overridable for tests.
#[derive(Debug, Clone)]
pub struct Paths {
    /// State (and the add-on's `options.json`).
    pub data: PathBuf,
    /// The configuration file of a plain container.
    pub config: PathBuf,
    /// Who to become when started as root outside add-on mode.
    pub user: RunAs,
    /// Home Assistant's shares, in add-on mode.
    pub shares: addon::Shares,
}

/// What to run: the configuration, and the file to watch for edits when there is one.
#[derive(Debug)]
pub struct Start {
    pub config: Config,
    pub watch: Option<PathBuf>,
    pub mode: Mode,
}

/// Why the container did not start; each message ends with what to do.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(
        "{0}\n{hint}",
        hint = not_started("correct the add-on's options in its Configuration tab")
    )]
    Options(AddonError),
    #[error("{0}\n{hint}", hint = not_started("restart the add-on once the Supervisor answers"))]
    Supervisor(AddonError),
    #[error(
        "{} not found: mount your configuration there (`-v ./config:/config`; config.example.yaml \
         shows every key), or run the image as a Home Assistant add-on",
        .0.display()
    )]
    NoConfig(PathBuf),
    #[error(
        "cannot read {}: {source}\nthe bridge runs as UID {uid} in the container: make the file \
         readable by it (`chown {uid} config.yaml`), or start the container with `--user`\n{}",
        path.display(),
        not_started("fix the file and restart the container"),
        uid = DEFAULT_UID
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}\n{hint}", hint = not_started("fix the file and restart the container"))]
    Config(ConfigErrors),
    #[error(transparent)]
    User(#[from] UserError),
}

/// Why the process could not become the unprivileged user.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Inspect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot give {} to UID {uid}: {source}", path.display())]
    Chown {
        path: PathBuf,
        uid: u32,
        source: std::io::Error,
    },
    #[error("cannot drop supplementary groups: {0}")]
    Groups(std::io::Error),
    #[error("cannot switch to GID {gid}: {source}")]
    Gid { gid: u32, source: std::io::Error },
    #[error("cannot switch to UID {uid}: {source}")]
    Uid { uid: u32, source: std::io::Error },
}

/// A `--user` that is neither `UID:GID` nor `root`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not UID:GID (numbers) or root")]
pub struct BadUser(pub String);

/// Chooses the mode from the environment, drops privileges where it may, and loads the
/// configuration.
pub fn prepare(paths: &Paths) -> Result<Start, ContainerError> {
    let token = std::env::var("SUPERVISOR_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let mut start = match token {
        Some(token) => {
            let base = std::env::var("SUPERVISOR_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| addon::DEFAULT_SUPERVISOR_URL.to_string());
            let mqtt = supervisor_mqtt(&base, &Secret::new(token))?;
            let options = paths.data.join("options.json");
            let config =
                addon::load(&options, &mqtt, &paths.shares).map_err(ContainerError::Options)?;
            Start {
                config,
                watch: None,
                mode: Mode::Addon,
            }
        }
        None => {
            if let RunAs::User { uid, gid } = paths.user {
                become_user(uid, gid, &paths.data)?;
            }
            let path = &paths.config;
            match std::fs::File::open(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ContainerError::NoConfig(path.clone()))
                }
                Err(source) if source.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(ContainerError::Unreadable {
                        path: path.clone(),
                        source,
                    })
                }
                _ => {}
            }
            Start {
                config: Config::load(path).map_err(ContainerError::Config)?,
                watch: Some(path.clone()),
                mode: Mode::Container,
            }
        }
    };
    if start.config.state_dir.is_none() {
        start.config.state_dir = Some(paths.data.clone());
    }
    Ok(start)
}

/// The Supervisor answers as soon as the add-on runs; a few tries cover a Supervisor restarting.
fn supervisor_mqtt(base: &str, token: &Secret) -> Result<addon::MqttService, ContainerError> {
    const TRIES: u32 = 5;
    let mut attempt = 1;
    loop {
        match addon::mqtt_service(base, token) {
            Ok(s) => return Ok(s),
            Err(e @ AddonError::TokenRefused { .. }) => return Err(ContainerError::Supervisor(e)),
            Err(e) if attempt == TRIES => return Err(ContainerError::Supervisor(e)),
            Err(e) => {
                eprintln!("solarcam-bridge: {e}; trying again in 2 s ({attempt}/{TRIES})");
                std::thread::sleep(Duration::from_secs(2));
                attempt += 1;
            }
        }
    }
}

/// Started as root: gives `data` to `uid:gid` (all of it, when it belongs to someone else) and
/// switches to them for good. Anything else: nothing to do.
#[cfg(unix)]
fn become_user(uid: u32, gid: u32, data: &Path) -> Result<(), UserError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || uid == 0 {
        return Ok(());
    }
    let path = || data.to_path_buf();
    std::fs::create_dir_all(data).map_err(|source| UserError::Create {
        path: path(),
        source,
    })?;
    let meta = std::fs::metadata(data).map_err(|source| UserError::Inspect {
        path: path(),
        source,
    })?;
    if std::os::unix::fs::MetadataExt::uid(&meta) != uid {
        chown_tree(data, uid, gid).map_err(|source| UserError::Chown {
            path: path(),
            uid,
            source,
        })?;
    }
    let last = std::io::Error::last_os_error;
    // Before any thread exists (the runtime starts later), so the change holds for the process.
    // SAFETY: plain system calls on integers; a null list with length 0 is what setgroups expects.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(UserError::Groups(last()));
        }
        if libc::setgid(gid) != 0 {
            return Err(UserError::Gid {
                gid,
                source: last(),
            });
        }
        if libc::setuid(uid) != 0 {
            return Err(UserError::Uid {
                uid,
                source: last(),
            });
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn become_user(_uid: u32, _gid: u32, _data: &Path) -> Result<(), UserError> {
    Ok(())
}

/// `chown -hR`: symbolic links are changed themselves, never followed.
#[cfg(unix)]
fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Logged once the log is set up: what the container found.
pub fn describe(start: &Start) {
    // SAFETY: getuid has no preconditions.
    #[cfg(unix)]
    let uid = unsafe { libc::getuid() };
    #[cfg(not(unix))]
    let uid = 0;
    tracing::info!(
        "{} mode, running as UID {uid}, state in {}",
        start.mode,
        start
            .config
            .state_dir
            .as_deref()
            .unwrap_or(Path::new("?"))
            .display()
    );
    if start.mode == Mode::Container && uid == 0 {
        warn!("running as root: started with --user root or user 0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        let user = |uid, gid| Ok(RunAs::User { uid, gid });
        assert_eq!("65532:65532".parse(), user(65532, 65532));
        assert_eq!("1000".parse(), user(1000, 1000));
        assert_eq!("root".parse(), Ok(RunAs::Root));
        assert_eq!("0:0".parse(), Ok(RunAs::Root));
        assert!("bob".parse::<RunAs>().is_err());
        // The command line's default is the image's user, spelled as a user would.
        assert_eq!(DEFAULT_USER.to_string(), "65532:65532");
        assert_eq!(DEFAULT_USER.to_string().parse(), Ok(DEFAULT_USER));
    }
}

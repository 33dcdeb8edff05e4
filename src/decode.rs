//! The `decode` command: a saved snapshot payload, in any form, to a JPEG file.
//!
//! It replaces the vendor's routine (copy the hex from an MQTT client, delete everything before
//! `ffd8` in an editor, run transfer.exe) for an installer checking a camera's output.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::protocol::snapshot;

/// What was found and where it went, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub output: PathBuf,
    pub summary: String,
}

/// Why no JPEG was written.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{name}: cannot read: {source}")]
    Read {
        name: String,
        source: std::io::Error,
    },
    #[error("{name}: {size} bytes, {source}")]
    NoJpeg {
        name: String,
        size: usize,
        source: snapshot::SnapshotError,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads `input` (`-` for standard input), finds the JPEG and writes it to `output` (by default
/// beside the input, with the extension `.jpg`).
pub fn decode(input: &Path, output: Option<PathBuf>) -> Result<Decoded, DecodeError> {
    let stdin = input == Path::new("-");
    let name = if stdin {
        "standard input".to_string()
    } else {
        input.display().to_string()
    };
    let mut payload = Vec::new();
    let read = if stdin {
        std::io::stdin().read_to_end(&mut payload).map(|_| ())
    } else {
        std::fs::File::open(input).and_then(|mut f| f.read_to_end(&mut payload).map(|_| ()))
    };
    if let Err(source) = read {
        return Err(DecodeError::Read { name, source });
    }
    let size = payload.len();
    let found = match snapshot::extract(&Bytes::from(payload)) {
        Ok(found) => found,
        Err(source) => return Err(DecodeError::NoJpeg { name, size, source }),
    };
    let output = output.unwrap_or_else(|| default_output(input, stdin));
    if let Err(source) = std::fs::write(&output, &found.jpeg) {
        return Err(DecodeError::Write {
            path: output,
            source,
        });
    }
    let camera = match found.mac {
        Ok(Some(mac)) => format!("camera {mac}"),
        Ok(None) => "no camera MAC in the payload".to_string(),
        Err(bad) => format!("no camera: {bad}"),
    };
    Ok(Decoded {
        summary: format!(
            "{name}: JPEG of {} bytes ({}), {camera}; written to {}",
            found.jpeg.len(),
            found.form,
            output.display()
        ),
        output,
    })
}

fn default_output(input: &Path, stdin: bool) -> PathBuf {
    if stdin {
        return PathBuf::from("snapshot.jpg");
    }
    let is_jpeg = input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
    if is_jpeg {
        input.with_extension("decoded.jpg")
    } else {
        input.with_extension("jpg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_goes_beside_the_input() {
        assert_eq!(
            default_output(Path::new("dump.txt"), false),
            PathBuf::from("dump.jpg")
        );
        assert_eq!(
            default_output(Path::new("a/raw.JPG"), false),
            PathBuf::from("a/raw.decoded.jpg")
        );
        assert_eq!(
            default_output(Path::new("-"), true),
            PathBuf::from("snapshot.jpg")
        );
    }
}

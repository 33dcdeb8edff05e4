//! TLS for a broker connection: the CAs it trusts, and the client certificate it shows.

use std::sync::Arc;

use super::SetupError;
use crate::config::BrokerConfig;

pub(super) fn tls_config(
    broker: &BrokerConfig,
    name: &'static str,
) -> Result<rustls::ClientConfig, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| SetupError::Tls { name, source })?
        .with_root_certificates(roots(broker, name)?);
    let mut config = match (&broker.client_cert, &broker.client_key) {
        (Some(cert), Some(key)) => {
            let (certs, key) = client_identity(cert, key, name)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|source| SetupError::Tls { name, source })?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = broker.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

/// The certificates in a PEM file (none when it holds none).
fn read_certs(
    path: &std::path::Path,
) -> std::io::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let pem = std::fs::read(path)?;
    Ok(rustls_pemfile::certs(&mut pem.as_slice())
        .filter_map(Result::ok)
        .collect())
}

/// The CAs the connection trusts: `ca_file`'s, else the system's.
fn roots(broker: &BrokerConfig, name: &'static str) -> Result<rustls::RootCertStore, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match &broker.ca_file {
        Some(path) => {
            let shown = path.display().to_string();
            let certs = read_certs(path).map_err(|source| SetupError::CaFile {
                name,
                path: shown.clone(),
                source,
            })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(SetupError::CaFileEmpty { name, path: shown });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(SetupError::NoSystemRoots { name });
            }
        }
    }
    Ok(roots)
}

type Identity = (
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
);

/// The client certificate chain and its key, from their PEM files.
fn client_identity(
    cert: &std::path::Path,
    key: &std::path::Path,
    name: &'static str,
) -> Result<Identity, SetupError> {
    let path = cert.display().to_string();
    let certs = read_certs(cert).map_err(|source| SetupError::ClientCert {
        name,
        path: path.clone(),
        source,
    })?;
    if certs.is_empty() {
        return Err(SetupError::ClientCertEmpty { name, path });
    }
    let path = key.display().to_string();
    let pem = std::fs::read(key).map_err(|source| SetupError::ClientKey {
        name,
        path: path.clone(),
        source,
    })?;
    let key = rustls_pemfile::private_key(&mut pem.as_slice())
        .ok()
        .flatten()
        .ok_or(SetupError::NoKey { name, path })?;
    Ok((certs, key))
}

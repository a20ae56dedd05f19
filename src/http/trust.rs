//! Whom TLS trusts: the system's store, plus the certificate authorities named by
//! `$SSL_CERT_FILE` (a PEM file of one or more certificates) and `$SSL_CERT_DIR` (directories of
//! PEM files, separated by `:`), as OpenSSL reads them: how a corporate proxy's CA gets in.

use std::path::{Path, PathBuf};

use reqwest::{Certificate, ClientBuilder};

use crate::error::Failure;

const CERT_FILE: &str = "SSL_CERT_FILE";
const CERT_DIR: &str = "SSL_CERT_DIR";

/// Where Linux distributions keep the system's CA bundle (the list Go's crypto/x509 reads).
#[cfg(target_os = "linux")]
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The client trusting the system's store and the CAs of `$SSL_CERT_FILE` / `$SSL_CERT_DIR`.
pub fn trust(client: ClientBuilder) -> Result<ClientBuilder, Failure> {
    let extra = extra_roots()?;
    if extra.is_empty() {
        return Ok(client);
    }
    Ok(add_to_system(client, extra))
}

/// On Linux the system's store is a PEM bundle, which the platform verifier would read from
/// `$SSL_CERT_FILE` instead: read the bundle here, so the variables add to it.
#[cfg(target_os = "linux")]
fn add_to_system(client: ClientBuilder, mut extra: Vec<Certificate>) -> ClientBuilder {
    let system = SYSTEM_BUNDLES
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|pem| Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default();
    extra.extend(system);
    client.tls_certs_only(extra)
}

/// macOS and Windows keep their stores elsewhere: the CAs are merged into them.
#[cfg(not(target_os = "linux"))]
fn add_to_system(client: ClientBuilder, extra: Vec<Certificate>) -> ClientBuilder {
    client.tls_certs_merge(extra)
}

/// The certificates the two variables name. A file that cannot be read or holds no
/// certificate is a usage error naming it; in a directory, files that are not PEM
/// certificates are skipped (c_rehash directories hold other things too).
fn extra_roots() -> Result<Vec<Certificate>, Failure> {
    let mut roots = Vec::new();
    if let Some(file) = var(CERT_FILE) {
        let path = PathBuf::from(&file);
        let pem = std::fs::read(&path)
            .map_err(|err| Failure::usage(format!("{CERT_FILE}={file}: cannot read it: {err}")))?;
        let certs = pem_certificates(&pem);
        if certs.is_empty() {
            return Err(Failure::usage(format!(
                "{CERT_FILE}={file}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)"
            )));
        }
        roots.extend(certs);
    }
    if let Some(dirs) = var(CERT_DIR) {
        for dir in std::env::split_paths(&dirs) {
            roots.extend(dir_certificates(&dir));
        }
    }
    Ok(roots)
}

fn dir_certificates(dir: &Path) -> Vec<Certificate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .flat_map(|pem| pem_certificates(&pem))
        .collect()
}

fn pem_certificates(pem: &[u8]) -> Vec<Certificate> {
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Vec::new();
    }
    Certificate::from_pem_bundle(pem).unwrap_or_default()
}

/// Empty counts as unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

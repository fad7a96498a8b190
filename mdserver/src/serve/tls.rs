//! HTTPS for `serve` and `gateway` (rustls), and the client side of https
//! webhooks.
//!
//! The server speaks TLS with the configured certificate (`[tls] cert`,
//! `key`), or with a self-signed one made at first start and kept in
//! `<data_dir>/tls/` when it listens beyond loopback with none configured
//! (or `enabled = true`); its SHA-256 fingerprint is printed at start so a
//! client can pin it. `enabled = false` keeps plain HTTP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::config::Config;

/// The server's TLS: what accepts connections, and what to print.
pub(crate) struct ServerTls {
    pub(crate) acceptor: TlsAcceptor,
    /// SHA-256 of the leaf certificate, `AB:CD:…`.
    pub(crate) fingerprint: String,
    /// Where the certificate came from.
    pub(crate) source: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn fingerprint(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn load(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("TLS certificate `{}`: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("TLS certificate `{}`: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "TLS certificate `{}` holds no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("TLS key `{}`: {e}", key.display()))?;
    Ok((certs, key))
}

/// The names a self-signed certificate is made for: loopback, the listen
/// address when it is a specific one, and this host's name.
fn names(cfg: &Config) -> Vec<String> {
    let mut out = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    let ip = cfg.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        out.push(ip.to_string());
    }
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() && !out.iter().any(|n| n == h) {
            out.push(h.to_string());
        }
    }
    out
}

/// Makes (once) and returns the self-signed certificate in `dir`.
fn self_signed(cfg: &Config, dir: &Path) -> Result<(PathBuf, PathBuf, bool), String> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.is_file() && key.is_file() {
        return Ok((cert, key, false));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("`{}`: {e}", dir.display()))?;
    let made = rcgen::generate_simple_self_signed(names(cfg))
        .map_err(|e| format!("can not make a TLS certificate: {e}"))?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| format!("`{}`: {e}", cert.display()))?;
    Ok((cert, key, true))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("`{}`: {e}", path.display()))
}

/// The server's TLS as configured: `None` for plain HTTP.
pub(crate) fn server(cfg: &Config) -> Result<Option<ServerTls>, String> {
    let wanted = cfg
        .tls
        .enabled
        .unwrap_or_else(|| !cfg.listen.ip().is_loopback());
    if !wanted && cfg.tls.cert.is_none() && cfg.tls.key.is_none() {
        return Ok(None);
    }
    acceptor(cfg, &[b"http/1.1"]).map(Some)
}

/// The ICAP server's TLS (`[icap] tls = true`): the server's certificate,
/// or the self-signed one, whatever `[tls] enabled` says of HTTP.
pub(crate) fn icap(cfg: &Config) -> Result<Option<ServerTls>, String> {
    if !cfg.icap.tls {
        return Ok(None);
    }
    acceptor(cfg, &[]).map(Some)
}

/// An acceptor with the configured certificate or the self-signed one,
/// offering `alpn`.
fn acceptor(cfg: &Config, alpn: &[&[u8]]) -> Result<ServerTls, String> {
    let t = &cfg.tls;
    let (cert, key, source) = match (&t.cert, &t.key) {
        (Some(c), Some(k)) => {
            if t.enabled == Some(false) {
                return Err("`[tls]`: `cert` and `key` are set but `enabled = false`".into());
            }
            (c.clone(), k.clone(), format!("from {}", c.display()))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err("`[tls]`: set both `cert` and `key`".into());
        }
        (None, None) => {
            let dir = cfg.data_dir().join("tls");
            let (c, k, new) = self_signed(cfg, &dir)?;
            let how = if new {
                "made now"
            } else {
                "made at first start"
            };
            (c, k, format!("self-signed, {how}, in {}", dir.display()))
        }
    };
    let (certs, key) = load(&cert, &key)?;
    let fingerprint = certs.first().map(|c| fingerprint(c)).unwrap_or_default();
    let mut sc = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate `{}`: {e}", cert.display()))?;
    sc.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(ServerTls {
        acceptor: TlsAcceptor::from(Arc::new(sc)),
        fingerprint,
        source,
    })
}

/// What https webhooks are checked against: the system's roots and the
/// configured `[tls] ca` files.
pub(crate) fn client(cfg: &Config) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    for path in &cfg.tls.ca {
        for c in CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("TLS CA `{}`: {e}", path.display()))?
        {
            let c = c.map_err(|e| format!("TLS CA `{}`: {e}", path.display()))?;
            roots
                .add(c)
                .map_err(|e| format!("TLS CA `{}`: {e}", path.display()))?;
        }
    }
    let cc = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(cc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(listen: &str, dir: &Path, tls: &str) -> Config {
        let c: Config = toml::from_str(&format!(
            "listen = \"{listen}\"\ndata_dir = \"{}\"\napi_keys = [\"k\"]\n[tls]\n{tls}",
            dir.display()
        ))
        .unwrap();
        c.finish().unwrap()
    }

    #[test]
    fn loopback_is_plain_and_beyond_it_a_certificate_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            server(&cfg("127.0.0.1:0", dir.path(), ""))
                .unwrap()
                .is_none()
        );
        let first = server(&cfg("0.0.0.0:0", dir.path(), "")).unwrap().unwrap();
        assert!(first.source.contains("made now"), "{}", first.source);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let again = server(&cfg("0.0.0.0:0", dir.path(), "")).unwrap().unwrap();
        assert_eq!(again.fingerprint, first.fingerprint, "kept, not remade");
        assert!(
            server(&cfg("0.0.0.0:0", dir.path(), "enabled = false"))
                .unwrap()
                .is_none()
        );
        assert!(
            server(&cfg("127.0.0.1:0", dir.path(), "enabled = true"))
                .unwrap()
                .is_some()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
        // A configured pair wins; half a pair or a bad file is an error.
        let tls = dir.path().join("tls");
        let pair = format!(
            "cert = \"{}\"\nkey = \"{}\"",
            tls.join("cert.pem").display(),
            tls.join("key.pem").display()
        );
        let s = server(&cfg("127.0.0.1:0", dir.path(), &pair))
            .unwrap()
            .unwrap();
        assert!(s.source.starts_with("from "));
        let half = format!("cert = \"{}\"", tls.join("cert.pem").display());
        assert!(server(&cfg("127.0.0.1:0", dir.path(), &half)).is_err());
        let bad = format!(
            "cert = \"{}\"\nkey = \"{}\"",
            tls.join("key.pem").display(),
            tls.join("key.pem").display()
        );
        assert!(server(&cfg("127.0.0.1:0", dir.path(), &bad)).is_err());
    }
}

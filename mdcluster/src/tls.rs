//! TLS of the cluster's links: `amqps://` to RabbitMQ, `rediss://` to
//! Redis, `https://` to an S3 endpoint. Each client checks the server
//! against the system's roots and the roots of [`LinkTls`] (a private CA),
//! and presents a client certificate where the server asks for one
//! (mutual TLS, as RabbitMQ's `fail_if_no_peer_cert` and Redis's
//! `tls-auth-clients` do).

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

/// TLS settings shared by every link of one process. The default trusts
/// the system's roots and presents no certificate.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LinkTls {
    /// PEM certificates trusted as roots beside the system's.
    pub roots_pem: Vec<u8>,
    /// A certificate for servers that ask the client for one.
    pub client: Option<ClientCert>,
}

/// A client certificate chain and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate, then any intermediates.
    pub cert_pem: Vec<u8>,
    /// PKCS#8, PKCS#1 or SEC1 private key.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for LinkTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkTls")
            .field("roots", &self.roots().map(|r| r.len()).unwrap_or(0))
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str("ClientCert { .. }")
    }
}

impl LinkTls {
    /// Checks that the roots and the client certificate parse, so a bad
    /// file is reported at start rather than at the first connection.
    pub fn check(&self) -> Result<(), Error> {
        self.roots()?;
        if let Some(c) = &self.client {
            let certs = CertificateDer::pem_slice_iter(&c.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Tls(format!("client certificate: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Tls("client certificate: no certificate".into()));
            }
            rustls_pki_types::PrivateKeyDer::from_pem_slice(&c.key_pem)
                .map_err(|e| Error::Tls(format!("client key: {e}")))?;
        }
        Ok(())
    }

    /// The configured roots, parsed.
    fn roots(&self) -> Result<Vec<CertificateDer<'static>>, Error> {
        CertificateDer::pem_slice_iter(&self.roots_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(format!("CA certificates: {e}")))
    }

    /// lapin's settings: the roots are added to the system's.
    pub(crate) fn amqp(&self) -> OwnedTLSConfig {
        OwnedTLSConfig {
            identity: self.client.as_ref().map(|c| OwnedIdentity::PKCS8 {
                pem: c.cert_pem.clone(),
                key: c.key_pem.clone(),
            }),
            cert_chain: (!self.roots_pem.is_empty())
                .then(|| String::from_utf8_lossy(&self.roots_pem).into_owned()),
        }
    }

    /// A Redis client for `url`. The redis crate takes roots *instead of*
    /// the system's, so the system's are handed over with ours.
    pub(crate) fn redis_client(&self, url: &str) -> Result<redis::Client, Error> {
        let rerr = |e: redis::RedisError| Error::Redis(e.to_string());
        let plain = !url.starts_with("rediss://");
        if plain || (self.roots_pem.is_empty() && self.client.is_none()) {
            return redis::Client::open(url).map_err(rerr);
        }
        let root_cert = if self.roots_pem.is_empty() {
            None
        } else {
            let mut pem = Vec::new();
            for c in rustls_native_certs::load_native_certs().certs {
                pem.extend(
                    ::pem::encode(&::pem::Pem::new("CERTIFICATE", c.as_ref().to_vec())).bytes(),
                );
            }
            pem.push(b'\n');
            pem.extend_from_slice(&self.roots_pem);
            Some(pem)
        };
        let certs = redis::TlsCertificates {
            client_tls: self.client.as_ref().map(|c| redis::ClientTlsConfig {
                client_cert: c.cert_pem.clone(),
                client_key: c.key_pem.clone(),
            }),
            root_cert,
        };
        redis::Client::build_with_tls(url, certs).map_err(rerr)
    }

    /// The roots for object_store's HTTP client (added to the system's).
    pub(crate) fn http_roots(&self) -> Result<Vec<object_store::Certificate>, Error> {
        if self.roots_pem.is_empty() {
            return Ok(Vec::new());
        }
        object_store::Certificate::from_pem_bundle(&self.roots_pem)
            .map_err(|e| Error::Tls(format!("CA certificates: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_reported_and_keys_never_printed() {
        let bad = LinkTls {
            roots_pem: b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
                .to_vec(),
            client: None,
        };
        assert!(bad.check().is_err());
        assert!(bad.redis_client("rediss://127.0.0.1:1/").is_err());
        let no_cert = LinkTls {
            roots_pem: Vec::new(),
            client: Some(ClientCert {
                cert_pem: Vec::new(),
                key_pem: b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"
                    .to_vec(),
            }),
        };
        assert!(no_cert.check().is_err());
        let shown = format!("{no_cert:?}");
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("PRIVATE"),
            "{shown}"
        );
        // Plain URLs ignore the settings; none is the system's roots.
        assert!(no_cert.redis_client("redis://127.0.0.1:1/").is_ok());
        assert!(LinkTls::default().check().is_ok());
        assert!(LinkTls::default().http_roots().unwrap().is_empty());
        assert!(LinkTls::default().amqp().cert_chain.is_none());
    }
}

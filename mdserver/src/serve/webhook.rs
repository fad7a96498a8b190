//! `callbackurl`: the finished result is POSTed there.
//!
//! The sender consumes the backend's owed callbacks (durable, at least
//! once: the local store's table, or the cluster's stream group), renders
//! each root's document and delivers it with retries and exponential
//! back-off, several at a time, so scanning never waits for it.
//!
//! Server-side request forgery: a callback may only reach a host the
//! configuration allows. With `callback_allow` empty, any host whose every
//! address is public; loopback, private, link-local (cloud metadata),
//! shared, multicast and unspecified addresses are refused unless listed.
//! The check runs after name resolution, and the connection goes to the
//! address that was checked (no second lookup to rebind). `https://`
//! callbacks are checked against the system's roots and `[tls] ca`, for
//! the name in the URL.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;

use super::backend::Backend;
use super::config::Config;
use super::doc;

/// Delivery attempts before giving up.
const ATTEMPTS: u32 = 6;
/// Deliveries in flight at once.
const PARALLEL: usize = 32;

/// Starts the sender for `backend`'s callbacks.
pub(crate) fn spawn<B: Backend>(backend: Arc<B>, cfg: Arc<Config>) -> Result<(), String> {
    let tls = super::tls::client(&cfg)?;
    tokio::spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        loop {
            let Some(cb) = backend.next_callback(Duration::from_secs(5)).await else {
                continue;
            };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let backend = backend.clone();
            let cfg = cfg.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                if let Ok(Some(scan)) = backend.scan(&cb.data_id).await
                    && let Some(url) = scan.callback_url.clone()
                    && scan.callback_refused.is_none()
                {
                    let body = doc::root(&scan, cfg.workflow(&scan.workflow).as_ref());
                    deliver(&cfg, &tls, &url, &body).await;
                }
                backend.delivered(&cb).await;
                drop(permit);
            });
        }
    });
    Ok(())
}

/// Whether `ip` is an address a callback may reach without being listed.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // 100.64.0.0/10, carrier-grade NAT.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                // 192.0.0.0/24, protocol assignments; 198.18.0.0/15, benchmarking.
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local (AWS metadata fd00:ec2::254 too).
                || (s[0] & 0xfe00) == 0xfc00
                // fe80::/10 link-local.
                || (s[0] & 0xffc0) == 0xfe80
                // 2001:db8::/32 documentation; 64:ff9b::/96 NAT64 of anything.
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

/// One `callback_allow` entry: a host name, an address, or a CIDR block.
fn listed(allow: &[String], host: &str, ip: IpAddr) -> bool {
    allow.iter().any(|a| {
        let a = a.trim();
        if a.eq_ignore_ascii_case(host) {
            return true;
        }
        if let Ok(x) = a.parse::<IpAddr>() {
            return x == ip;
        }
        let Some((net, bits)) = a.split_once('/') else {
            return false;
        };
        let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
            return false;
        };
        match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                (u32::from(n) & mask) == (u32::from(i) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                (u128::from(n) & mask) == (u128::from(i) & mask)
            }
            _ => false,
        }
    })
}

/// Where a callback URL may be sent: the checked address to connect to,
/// or why not.
pub(crate) async fn resolve(cfg: &Config, url: &str) -> Result<(hyper::Uri, SocketAddr), String> {
    let uri: hyper::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(format!(
            "`{url}`: only http:// and https:// callbacks are supported"
        ));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let allow = &cfg.callback_allow;
    let mut addrs: Vec<SocketAddr> = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| format!("callback host `{host}` did not resolve in time"))?
    .map_err(|e| format!("callback host `{host}` does not resolve: {e}"))?
    .collect();
    if addrs.is_empty() {
        return Err(format!("callback host `{host}` has no address"));
    }
    // Every address must pass: a name that also points inside is refused.
    for a in &addrs {
        let ok = if allow.is_empty() {
            is_public(a.ip())
        } else {
            listed(allow, &host, a.ip())
        };
        if !ok {
            return Err(format!(
                "callback to `{host}` ({}) refused: not an allowed address (see `callback_allow`)",
                a.ip()
            ));
        }
    }
    Ok((uri, addrs.swap_remove(0)))
}

/// Sends one request over `io` (plain or TLS) and returns the status.
async fn post<S>(io: S, req: hyper::Request<Full<Bytes>>) -> Result<hyper::StatusCode, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    send.send_request(req)
        .await
        .map(|r| r.status())
        .map_err(|e| e.to_string())
}

/// One delivery attempt to the checked address.
async fn attempt(
    tls: Option<(&TlsConnector, &rustls_pki_types::ServerName<'static>)>,
    addr: SocketAddr,
    req: hyper::Request<Full<Bytes>>,
) -> Result<hyper::StatusCode, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    match tls {
        None => post(tcp, req).await,
        Some((connector, name)) => {
            let stream = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            post(stream, req).await
        }
    }
}

async fn deliver(cfg: &Config, tls: &TlsConnector, url: &str, doc: &serde_json::Value) {
    let (uri, addr) = match resolve(cfg, url).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mdscan: {e}");
            return;
        }
    };
    // Connect to the checked address; the Host header (and the TLS name)
    // keep the name.
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let name = match uri.scheme_str() {
        Some("https") => {
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_string();
            match rustls_pki_types::ServerName::try_from(host) {
                Ok(n) => Some(n),
                Err(e) => {
                    eprintln!("mdscan: callback `{url}`: {e}");
                    return;
                }
            }
        }
        _ => None,
    };
    let body = Bytes::from(doc.to_string());
    let mut delay = Duration::from_millis(250);
    for attempt_no in 1..=ATTEMPTS {
        let req = hyper::Request::post(path.as_str())
            .header("host", authority.as_str())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()));
        let Ok(req) = req else { return };
        let tls = name.as_ref().map(|n| (tls, n));
        match tokio::time::timeout(Duration::from_secs(10), attempt(tls, addr, req)).await {
            Ok(Ok(status)) if status.is_success() => return,
            Ok(Ok(status)) => eprintln!(
                "mdscan: callback `{url}` answered {status} (attempt {attempt_no}/{ATTEMPTS})"
            ),
            Ok(Err(e)) => {
                eprintln!("mdscan: callback `{url}`: {e} (attempt {attempt_no}/{ATTEMPTS})")
            }
            Err(_) => {
                eprintln!("mdscan: callback `{url}` timed out (attempt {attempt_no}/{ATTEMPTS})")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An https hook on 127.0.0.1 with a certificate made here: the body
    /// of each request it gets goes to the channel.
    async fn tls_hook(
        dir: &std::path::Path,
    ) -> (
        u16,
        std::path::PathBuf,
        tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) {
        use http_body_util::BodyExt;
        use rustls_pki_types::pem::PemObject;
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let ca = dir.join("hook.pem");
        std::fs::write(&ca, made.cert.pem()).unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(
            made.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let sc = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(sc));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let tx = tx.clone();
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let _ = tx.send(body.to_vec()).await;
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc),
                );
            }
        });
        (port, ca, rx)
    }

    #[tokio::test]
    async fn https_callbacks_are_delivered_to_a_trusted_server_only() {
        let dir = tempfile::tempdir().unwrap();
        let (port, ca, mut rx) = tls_hook(dir.path()).await;
        let cfg: Config = toml::from_str(&format!(
            "callback_allow = [\"127.0.0.1\"]\n[tls]\nca = [\"{}\"]",
            ca.display()
        ))
        .unwrap();
        let url = format!("https://127.0.0.1:{port}/hook?x=1");
        deliver(
            &cfg,
            &crate::serve::tls::client(&cfg).unwrap(),
            &url,
            &serde_json::json!({"data_id": "d1"}),
        )
        .await;
        let got = rx.recv().await.unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&got).unwrap()["data_id"],
            "d1"
        );
        // Without the hook's certificate among the roots: no TLS, no request.
        let plain: Config = toml::from_str("callback_allow = [\"127.0.0.1\"]").unwrap();
        let (uri, addr) = resolve(&plain, &url).await.unwrap();
        assert_eq!(uri.scheme_str(), Some("https"));
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1".to_string()).unwrap();
        let req = hyper::Request::post("/hook")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let e = attempt(
            Some((&crate::serve::tls::client(&plain).unwrap(), &name)),
            addr,
            req,
        )
        .await
        .unwrap_err();
        assert!(e.starts_with("TLS:"), "{e}");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn inside_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn allow_list_entries() {
        let allow = vec![
            "hooks.example".to_string(),
            "10.0.0.0/8".into(),
            "::1".into(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(listed(&allow, "hooks.example", ip("192.168.0.9")));
        assert!(listed(&allow, "x", ip("10.9.8.7")));
        assert!(!listed(&allow, "x", ip("11.0.0.1")));
        assert!(listed(&allow, "x", ip("::1")));
        assert!(!listed(&allow, "x", ip("127.0.0.1")));
    }
}

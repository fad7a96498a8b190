//! `callbackurl`: the finished result is POSTed there, retried with
//! exponential back-off, on its own task so scanning never waits for it.
//! Plain `http://` only (no TLS client is linked yet).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Delivery attempts before giving up.
const ATTEMPTS: u32 = 6;

pub(crate) async fn deliver(url: String, doc: serde_json::Value) {
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        eprintln!("mdscan: callback `{url}` is not a URL");
        return;
    };
    if uri.scheme_str() != Some("http") {
        eprintln!("mdscan: callback `{url}`: only http:// callbacks are supported");
        return;
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let body = Bytes::from(doc.to_string());
    let mut delay = Duration::from_millis(250);
    for attempt in 1..=ATTEMPTS {
        let req = hyper::Request::post(uri.clone())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()));
        let Ok(req) = req else { return };
        match tokio::time::timeout(Duration::from_secs(10), client.request(req)).await {
            Ok(Ok(resp)) if resp.status().is_success() => return,
            Ok(Ok(resp)) => eprintln!(
                "mdscan: callback `{url}` answered {} (attempt {attempt}/{ATTEMPTS})",
                resp.status()
            ),
            Ok(Err(e)) => eprintln!("mdscan: callback `{url}`: {e} (attempt {attempt}/{ATTEMPTS})"),
            Err(_) => {
                eprintln!("mdscan: callback `{url}` timed out (attempt {attempt}/{ATTEMPTS})")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

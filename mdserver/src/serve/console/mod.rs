//! The web console: static assets compiled into the binary (no build
//! step, nothing to install), served at `/` and `/console/…` without
//! authentication. Everything they show comes from the API with the
//! visitor's session or key, so the console can do exactly what its user
//! may do through the API and nothing more.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and
//! styles from this origin only, no inline code, no framing): file names
//! and threat names in results are attacker-chosen, and the console puts
//! them in the page as text, never as markup.

use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

use super::http::{Body, full};

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        mime: "text/html; charset=utf-8",
        body: include_bytes!("assets/index.html"),
    },
    Asset {
        path: "app.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/app.js"),
    },
    Asset {
        path: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("assets/app.css"),
    },
    Asset {
        path: "favicon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("assets/favicon.svg"),
    },
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The asset at `parts` (`[]` is the page itself, `["console", name]` the
/// rest), or `None` when the path is not the console's.
pub(crate) fn serve(parts: &[&str]) -> Option<Response<Body>> {
    let name = match parts {
        [] | ["console"] | ["index.html"] => "index.html",
        ["console", name] => name,
        ["favicon.ico"] => "favicon.svg",
        _ => return None,
    };
    let Some(a) = ASSETS.iter().find(|a| a.path == name) else {
        let mut r = Response::new(full("Not found"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Some(r);
    };
    let mut r = Response::new(full(a.body));
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(a.mime));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("cache-control", HeaderValue::from_static("no-cache"));
    Some(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_and_its_assets_are_served_with_a_strict_policy() {
        for parts in [&[][..], &["console", "app.js"], &["console", "app.css"]] {
            let r = super::serve(parts).unwrap();
            assert_eq!(r.status(), 200);
            let csp = r.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"));
        }
        assert_eq!(super::serve(&["console", "nope.js"]).unwrap().status(), 404);
        assert!(super::serve(&["file"]).is_none());
        // The page loads no inline script or style (the policy forbids
        // them) and nothing from elsewhere.
        let html = std::str::from_utf8(include_bytes!("assets/index.html")).unwrap();
        assert!(!html.contains("<script>") && !html.contains("style="));
        assert!(!html.contains("http://") && !html.contains("https://"));
        // The script never writes markup from data.
        let js = std::str::from_utf8(include_bytes!("assets/app.js")).unwrap();
        assert!(!js.contains("innerHTML") && !js.contains("outerHTML"));
        assert!(!js.contains("eval(") && !js.contains("document.write"));
    }
}

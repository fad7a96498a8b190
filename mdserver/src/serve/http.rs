//! What every HTTP front-end of the server shares (the API, the web
//! console): the response body type and JSON responses. Leaf of `serve`:
//! it imports nothing of the server.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde_json::Value;

/// The response body type.
pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// A whole body of these bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A JSON response with this status.
pub(crate) fn json_resp(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

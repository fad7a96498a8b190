//! `GET /file/download/{data_id}`: the original file, and `GET
//! /file/converted/{data_id}`: its sanitized copy; both with `Range`.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Api, ApiError, Reply};
use crate::serve::backend::Backend;
use crate::serve::identity::Identity;

pub(crate) async fn original<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
    id: &str,
) -> Reply {
    let scan = downloadable(api, who, id).await?;
    send(api, req, &scan.sha256, scan.file_size, &scan.display_name).await
}

/// The submitted scan `id` when `who` may download its files: 404 when
/// unknown or not theirs to see, 403 when they may see but not download.
async fn downloadable<B: Backend>(
    api: &Api<B>,
    who: &Identity,
    id: &str,
) -> Result<crate::serve::backend::Scan, ApiError> {
    let gone = || ApiError::FileNotFound;
    let scan = api
        .backend
        .scan(&id.to_ascii_lowercase())
        .await
        .ok()
        .flatten()
        .ok_or_else(gone)?;
    if !who.can_see(&scan.owner) {
        return Err(gone());
    }
    if !who.can_download(&scan.owner) {
        return Err(ApiError::Forbidden("Access denied"));
    }
    Ok(scan)
}

/// The sanitized copy of a finished root scan. 404 until there is one
/// (not done, not sanitized, sanitization failed); 403 when the copy's
/// own scan blocks it.
pub(crate) async fn converted<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    who: &Identity,
    id: &str,
) -> Reply {
    let gone = || ApiError::FileNotFound;
    let scan = downloadable(api, who, id).await?;
    let report = scan.report.as_ref().ok_or_else(gone)?;
    let rec = report
        .sanitization
        .as_ref()
        .filter(|r| r.failure.is_none() && !r.sha256.is_empty())
        .ok_or_else(gone)?;
    // The copy was scanned on its own: served only when that scan does
    // not block (whatever the original's verdict).
    let workflow = api.cfg.workflow(&scan.workflow);
    let blocked = match (rec.copy_result, &workflow) {
        (None, _) => true,
        (Some(c), w) => c.blocks_under(w.as_ref().map(|w| w.block_codes.as_slice())),
    };
    if blocked {
        return Err(ApiError::Forbidden(
            "The sanitized copy is blocked by its own scan; it is not served",
        ));
    }
    let name = crate::serve::doc::converted_name(&scan.display_name, rec);
    send(api, req, &rec.sha256, rec.size, &name).await
}

/// Streams the stored file `sha256` (`len` bytes) as an attachment named
/// `name`, honouring one `Range`.
async fn send<B: Backend, T>(
    api: &Api<B>,
    req: &Request<T>,
    sha256: &str,
    len: u64,
    name: &str,
) -> Reply {
    let gone = || ApiError::FileNotFound;
    let blob = api.backend.blob(sha256).await.map_err(|_| gone())?;
    // An open file stays readable after a downloaded copy is removed.
    let mut file = tokio::fs::File::open(blob.path())
        .await
        .map_err(|_| gone())?;
    drop(blob);
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|r| parse_range(r, len));
    let (start, end, status) = match range {
        Some(Ok((a, b))) => (a, b, StatusCode::PARTIAL_CONTENT),
        Some(Err(())) => return Err(ApiError::BadRange(len)),
        None => (0, len.saturating_sub(1), StatusCode::OK),
    };
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|_| gone())?;
    let count = if len == 0 { 0 } else { end - start + 1 };
    let stream = futures_util::stream::unfold((file, count), |(mut f, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; usize::try_from(left).unwrap_or(usize::MAX).min(64 << 10)];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), (f, left - n as u64)))
            }
            Err(e) => Some((Err(e), (f, 0))),
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *r.status_mut() = status;
    let hs = r.headers_mut();
    hs.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    hs.insert("accept-ranges", HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        hs.insert("content-length", v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition(name)) {
        hs.insert("content-disposition", v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}"))
    {
        hs.insert("content-range", v);
    }
    Ok(r)
}

/// RFC 5987's attr-chars: what `filename*` leaves unescaped.
const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment` with the name twice (RFC 6266): `filename` in plain ASCII
/// (anything else, quotes and backslashes as `_`) for old clients, and
/// `filename*` in UTF-8, percent-encoded, which current clients prefer.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, ATTR);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
#[test]
fn dispositions_name_the_file_for_old_and_new_clients() {
    assert_eq!(
        disposition("Bericht \"Q3\" ü.docx"),
        "attachment; filename=\"Bericht _Q3_ _.docx\"; filename*=UTF-8''Bericht%20%22Q3%22%20%C3%BC.docx"
    );
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range).
pub(crate) fn parse_range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 || len == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len.saturating_sub(1)),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(len.saturating_sub(1)),
        ),
    };
    if r.0 > r.1 || r.0 >= len {
        return Some(Err(()));
    }
    Some(Ok(r))
}

//! Images (PNG, JPEG, GIF, BMP, TIFF, WebP): decoded by the `image` crate
//! under limits and encoded again in the same format. The pixels stay;
//! metadata (EXIF, XMP, ICC profiles, text chunks, comments), bytes after
//! the image and anything else the decoder did not need are gone. An
//! animated GIF keeps its frames and delays; animated PNG and WebP keep
//! their first frame.

use std::io::Cursor;

use image::{AnimationDecoder, DynamicImage, ImageFormat};

use super::{SanitizeError, Sanitized, Tally};

/// Widest and tallest image decoded.
const MAX_DIMENSION: u32 = 16_384;
/// Memory the decoder may allocate.
const MAX_ALLOC: u64 = 512 << 20;
/// GIF frames kept at most.
const MAX_FRAMES: usize = 10_000;

fn fail(m: impl Into<String>) -> SanitizeError {
    SanitizeError::Failed(m.into())
}

/// Extensions of the formats, for names whose content is not an image.
pub(super) const EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "jpe", "gif", "bmp", "dib", "tif", "tiff", "webp",
];

/// The format of an image this sanitizer takes.
pub(super) fn format_of(data: &[u8]) -> Option<ImageFormat> {
    let f = image::guess_format(data).ok()?;
    matches!(
        f,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::WebP
    )
    .then_some(f)
}

fn limits() -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(MAX_DIMENSION);
    l.max_image_height = Some(MAX_DIMENSION);
    l.max_alloc = Some(MAX_ALLOC);
    l
}

pub(super) fn sanitize(data: &[u8], name: &str) -> Result<Sanitized, SanitizeError> {
    let format = format_of(data).ok_or_else(|| {
        fail(format!(
            "{name} is named as an image but is not a PNG, JPEG, GIF, BMP, TIFF or WebP image"
        ))
    })?;
    let mut out = Cursor::new(Vec::new());
    if format == ImageFormat::Gif && gif(data, &mut out)? {
        // Written with its frames.
    } else {
        let mut reader = image::ImageReader::with_format(Cursor::new(data), format);
        reader.limits(limits());
        let img = reader
            .decode()
            .map_err(|e| fail(format!("the image does not decode: {e}")))?;
        encode(&img, format, &mut out)?;
    }
    let mut tally = Tally::default();
    tally.add(
        "sanitized",
        "image",
        format!(
            "{} re-encoded",
            format.extensions_str().first().unwrap_or(&"image")
        ),
    );
    Ok(Sanitized {
        data: out.into_inner(),
        converted_to: format
            .extensions_str()
            .first()
            .copied()
            .unwrap_or("img")
            .into(),
        details: tally.into_details(),
    })
}

/// Encodes in `format`, converting the pixels where the encoder needs it
/// (JPEG has no alpha, WebP's encoder takes 8-bit RGB(A) only).
fn encode(
    img: &DynamicImage,
    format: ImageFormat,
    out: &mut Cursor<Vec<u8>>,
) -> Result<(), SanitizeError> {
    let err = |e: image::ImageError| fail(format!("the image can not be encoded again: {e}"));
    match format {
        ImageFormat::Jpeg => {
            let rgb: DynamicImage = match img {
                DynamicImage::ImageLuma8(_) => img.clone(),
                _ => DynamicImage::ImageRgb8(img.to_rgb8()),
            };
            rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(out, 92))
                .map_err(err)
        }
        ImageFormat::WebP => {
            let rgba = DynamicImage::ImageRgba8(img.to_rgba8());
            rgba.write_to(out, format).map_err(err)
        }
        _ => match img.write_to(&mut *out, format) {
            Ok(()) => Ok(()),
            Err(_) => {
                out.get_mut().clear();
                out.set_position(0);
                DynamicImage::ImageRgba8(img.to_rgba8())
                    .write_to(out, format)
                    .map_err(err)
            }
        },
    }
}

/// A GIF with more than one frame, written again with every frame; `false`
/// when it has one (encoded as a still image).
fn gif(data: &[u8], out: &mut Cursor<Vec<u8>>) -> Result<bool, SanitizeError> {
    let mut decoder = image::codecs::gif::GifDecoder::new(Cursor::new(data))
        .map_err(|e| fail(format!("the GIF does not decode: {e}")))?;
    image::ImageDecoder::set_limits(&mut decoder, limits())
        .map_err(|e| fail(format!("the GIF is too large: {e}")))?;
    let mut frames = Vec::new();
    for f in decoder.into_frames().take(MAX_FRAMES + 1) {
        frames.push(f.map_err(|e| fail(format!("a GIF frame does not decode: {e}")))?);
    }
    if frames.len() > MAX_FRAMES {
        return Err(fail(format!("the GIF has more than {MAX_FRAMES} frames")));
    }
    if frames.len() < 2 {
        return Ok(false);
    }
    let mut enc = image::codecs::gif::GifEncoder::new(&mut *out);
    enc.set_repeat(image::codecs::gif::Repeat::Infinite)
        .and_then(|()| enc.encode_frames(frames))
        .map_err(|e| fail(format!("the GIF can not be encoded again: {e}")))?;
    drop(enc);
    Ok(true)
}

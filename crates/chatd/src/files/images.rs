//! What an uploaded file is, told from its bytes (never from what the
//! uploader says), and images made safe to show: re-encoded, or stripped
//! of their metadata, so that EXIF (where a photo was taken, the camera's
//! serial number) and anything else hidden in them is gone, with a
//! thumbnail.
//!
//! - JPEG and PNG are decoded and encoded again (a JPEG turned upright
//!   first, as its EXIF orientation said);
//! - GIF frames are copied as they are, with their palettes, into a new
//!   file: comments and application blocks (XMP) stay behind, the
//!   animation does not;
//! - WebP keeps its image chunks and loses its `EXIF` and `XMP ` ones
//!   (`image` encodes WebP losslessly only, which would bloat photos).

use std::io::Cursor;
use std::num::NonZeroU64;

use bytes::Bytes;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The image types shown inline; anything else is a download.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Types a browser renders as pages or runs as scripts.
const ACTIVE_TYPES: [&str; 7] = [
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "application/javascript",
    "text/javascript",
];

/// A thumbnail fits in a square of this many pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// Largest side of an image accepted, in pixels.
const MAX_SIDE: u32 = 16_384;

/// Memory one image's decoding may take (its pixels, mainly).
const MAX_DECODING_BYTES: u64 = 256 << 20;

/// An uploaded file as it is kept.
#[derive(Debug)]
pub struct Prepared {
    pub bytes: Bytes,
    pub mime_type: String,
    /// An image's size in pixels; 0 for other files.
    pub width: u32,
    pub height: u32,
    pub thumbnail: Option<Bytes>,
}

/// Why an upload that says it is an image could not be taken as one.
#[derive(Debug, thiserror::Error)]
#[error("the image cannot be read ({0}); send a PNG, JPEG, GIF or WebP that opens, or zip it")]
pub struct BadImage(String);

fn bad(error: impl std::fmt::Display) -> BadImage {
    BadImage(error.to_string())
}

/// `bytes` as they are kept: an image cleaned with its thumbnail, or any
/// other file as it came, with the type its content shows. Slow for
/// images: run it off the async workers.
pub fn prepare(bytes: Bytes) -> Result<Prepared, BadImage> {
    let mime_type = mime_type_of(&bytes);
    let format = match mime_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        other => {
            return Ok(Prepared {
                bytes,
                mime_type: other.to_owned(),
                width: 0,
                height: 0,
                thumbnail: None,
            });
        }
    };
    let (image, cleaned) = match format {
        ImageFormat::Gif => (decode(&bytes, format, false)?, copy_gif_frames(&bytes)?),
        ImageFormat::WebP => (decode(&bytes, format, false)?, strip_webp(&bytes)?),
        _ => {
            let image = decode(&bytes, format, true)?;
            let cleaned = encode(&image, format)?;
            (image, cleaned)
        }
    };
    let thumbnail = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let thumbnail_format = if thumbnail.color().has_alpha() {
        ImageFormat::Png
    } else {
        ImageFormat::Jpeg
    };
    Ok(Prepared {
        bytes: cleaned,
        mime_type: mime_type.to_owned(),
        width: image.width(),
        height: image.height(),
        thumbnail: Some(encode(&thumbnail, thumbnail_format)?),
    })
}

/// The type `bytes` show they are: an image type, another known one, plain
/// text, or `application/octet-stream`.
pub fn mime_type_of(bytes: &[u8]) -> &'static str {
    match infer::get(bytes) {
        // Types a browser would run are never served as such.
        Some(kind) if ACTIVE_TYPES.contains(&kind.mime_type()) => "text/plain",
        Some(kind) => kind.mime_type(),
        None if std::str::from_utf8(bytes).is_ok() => "text/plain",
        None => "application/octet-stream",
    }
}

/// The image in `bytes` (the first frame of an animation), upright if
/// `upright` and it says how to turn it.
fn decode(bytes: &[u8], format: ImageFormat, upright: bool) -> Result<DynamicImage, BadImage> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODING_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let orientation = decoder.orientation().map_err(bad)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(bad)?;
    if upright {
        image.apply_orientation(orientation);
    }
    Ok(image)
}

/// `image` encoded as `format` (PNG or JPEG), with nothing but its pixels.
fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Bytes, BadImage> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            // JPEG has no alpha and 8 bits a channel.
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88);
            rgb.write_with_encoder(encoder).map_err(bad)?;
        }
        _ => image.write_to(&mut out, ImageFormat::Png).map_err(bad)?,
    }
    Ok(Bytes::from(out.into_inner()))
}

/// A GIF with the frames, palettes and loop count of `bytes` and nothing
/// else.
fn copy_gif_frames(bytes: &[u8]) -> Result<Bytes, BadImage> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let frame_limit = NonZeroU64::new(MAX_DECODING_BYTES).expect("not zero");
    options.set_memory_limit(gif::MemoryLimit::Bytes(frame_limit));
    let mut decoder = options.read_info(bytes).map_err(bad)?;
    let palette = decoder.global_palette().unwrap_or_default().to_vec();
    let (width, height) = (decoder.width(), decoder.height());
    let repeat = decoder.repeat();
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).map_err(bad)?;
        encoder.set_repeat(repeat).map_err(bad)?;
        while let Some(frame) = decoder.read_next_frame().map_err(bad)? {
            encoder.write_frame(frame).map_err(bad)?;
        }
    }
    Ok(Bytes::from(out))
}

/// The WebP of `bytes` without its `EXIF` and `XMP ` chunks (and without
/// the flags that announce them).
fn strip_webp(bytes: &[u8]) -> Result<Bytes, BadImage> {
    const EXIF_FLAG: u8 = 0x08;
    const XMP_FLAG: u8 = 0x04;
    let body = (bytes.get(..4) == Some(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"))
        .then(|| &bytes[12..])
        .ok_or_else(|| bad("not a RIFF WebP file"))?;
    let mut out = b"RIFF\0\0\0\0WEBP".to_vec();
    let mut rest = body;
    while rest.len() >= 8 {
        let (tag, size) = (
            &rest[..4],
            u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]),
        );
        let padded = (size as usize).saturating_add(size as usize % 2);
        let chunk = rest
            .get(..8 + padded)
            .or_else(|| rest.get(..8 + size as usize))
            .ok_or_else(|| bad("a chunk runs past the end"))?;
        rest = &rest[chunk.len()..];
        match tag {
            b"EXIF" | b"XMP " => continue,
            b"VP8X" if chunk.len() > 8 => {
                let mut header = chunk.to_vec();
                header[8] &= !(EXIF_FLAG | XMP_FLAG);
                out.extend_from_slice(&header);
            }
            _ => out.extend_from_slice(chunk),
        }
    }
    let riff_size = u32::try_from(out.len() - 8).map_err(bad)?;
    out[4..8].copy_from_slice(&riff_size.to_le_bytes());
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_file_is_typed_by_its_content() {
        assert_eq!(mime_type_of(&png(2, 2)), "image/png");
        assert_eq!(mime_type_of(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(mime_type_of("hello, 민지".as_bytes()), "text/plain");
        assert_eq!(
            mime_type_of(&[0, 159, 146, 150]),
            "application/octet-stream"
        );
        let html = b"<!DOCTYPE html><script>alert(1)</script>";
        assert_eq!(mime_type_of(html), "text/plain");
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
        assert_ne!(mime_type_of(svg), "image/svg+xml");
    }

    #[test]
    fn an_image_gets_its_size_and_a_thumbnail() {
        let prepared = prepare(Bytes::from(png(1000, 500))).unwrap();
        assert_eq!((prepared.width, prepared.height), (1000, 500));
        let thumbnail = image::load_from_memory(&prepared.thumbnail.unwrap()).unwrap();
        assert_eq!((thumbnail.width(), thumbnail.height()), (320, 160));
    }

    #[test]
    fn an_image_too_large_to_decode_is_refused() {
        // A header claiming 100,000 pixels a side.
        let mut huge = png(1, 1);
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(prepare(Bytes::from(huge)).is_err());
    }

    #[test]
    fn webp_loses_its_metadata_chunks() {
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x0c\0\0\0\0\0\0\0\0\0".to_vec();
        webp.extend_from_slice(b"EXIF\x05\0\0\0GPS!!\0");
        webp.extend_from_slice(b"XMP \x04\0\0\0<x/>");
        webp.extend_from_slice(b"VP8L\x02\0\0\0ab");
        let stripped = strip_webp(&webp).unwrap();
        assert!(!stripped.windows(4).any(|w| w == b"GPS!" || w == b"<x/>"));
        assert!(stripped.windows(4).any(|w| w == b"VP8L"));
        assert_eq!(stripped[20] & 0x0c, 0, "flags cleared");
        let size = u32::from_le_bytes(stripped[4..8].try_into().unwrap()) as usize;
        assert_eq!(size, stripped.len() - 8);
    }
}

//! What an uploaded file is, told from its bytes (never from what the
//! uploader says), and images made safe to show: re-encoded, or stripped
//! of their metadata, so that EXIF (where a photo was taken, the camera's
//! serial number) and anything else hidden in them is gone, with a
//! thumbnail.
//!
//! - PNG is decoded and encoded again;
//! - JPEG keeps its image segments and loses its metadata ones (EXIF,
//!   XMP, comments, anything after the image), which costs a scan rather
//!   than a re-encoding (a 12-megapixel photo took 0.8 s of CPU to encode
//!   again); one whose EXIF says to turn it is turned upright and encoded
//!   again, as its orientation goes with the EXIF;
//! - GIF frames are copied as they are, with their palettes, into a new
//!   file: comments and application blocks (XMP) stay behind, the
//!   animation does not;
//! - WebP keeps its image chunks and loses its `EXIF` and `XMP ` ones
//!   (`image` encodes WebP losslessly only, which would bloat photos).

use std::io::Cursor;
use std::num::NonZeroU64;

use bytes::Bytes;
use image::metadata::Orientation;
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
        ImageFormat::Gif => (decode(&bytes, format).0?, copy_gif_frames(&bytes)?),
        ImageFormat::WebP => (decode(&bytes, format).0?, strip_webp(&bytes)?),
        ImageFormat::Jpeg => match decode(&bytes, format) {
            (Ok(image), Orientation::NoTransforms) => (image, strip_jpeg(&bytes)?),
            (image, orientation) => {
                let mut image = image?;
                image.apply_orientation(orientation);
                let cleaned = encode(&image, format)?;
                (image, cleaned)
            }
        },
        _ => {
            let image = decode(&bytes, format).0?;
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

/// The image in `bytes` (the first frame of an animation), and how its
/// metadata says to turn it to show it upright.
fn decode(bytes: &[u8], format: ImageFormat) -> (Result<DynamicImage, BadImage>, Orientation) {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODING_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = match reader.into_decoder() {
        Ok(decoder) => decoder,
        Err(error) => return (Err(bad(error)), Orientation::NoTransforms),
    };
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    (
        DynamicImage::from_decoder(decoder).map_err(bad),
        orientation,
    )
}

/// The JPEG of `bytes` with its image segments only: the frame, tables
/// and scans, and the JFIF, ICC colour profile and Adobe colour segments
/// that decoders need to show it right; no EXIF, XMP, comment or other
/// application segment, and nothing after its end.
fn strip_jpeg(bytes: &[u8]) -> Result<Bytes, BadImage> {
    const SOI: u8 = 0xd8;
    const EOI: u8 = 0xd9;
    const SOS: u8 = 0xda;
    let kept_application = |marker: u8, body: &[u8]| match marker {
        0xe0 => body.starts_with(b"JFIF\0"),
        0xe2 => body.starts_with(b"ICC_PROFILE\0"),
        0xee => body.starts_with(b"Adobe"),
        _ => false,
    };
    if bytes.get(..2) != Some(&[0xff, SOI]) {
        return Err(bad("not a JPEG file"));
    }
    let mut out = vec![0xff, SOI];
    let mut at = 2;
    while at < bytes.len() {
        let (Some(0xff), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return Err(bad("a segment does not start with a marker"));
        };
        if marker == 0xff {
            at += 1; // fill byte
            continue;
        }
        if marker == EOI {
            out.extend_from_slice(&[0xff, EOI]);
            return Ok(Bytes::from(out));
        }
        let len = bytes
            .get(at + 2..at + 4)
            .map(|len| usize::from(u16::from_be_bytes([len[0], len[1]])));
        let segment = len
            .and_then(|len| bytes.get(at..at + 2 + len))
            .ok_or_else(|| bad("a segment runs past the end"))?;
        let application = (0xe0..=0xef).contains(&marker) || marker == 0xfe;
        if !application || kept_application(marker, &segment[4..]) {
            out.extend_from_slice(segment);
        }
        at += segment.len();
        if marker == SOS {
            // Entropy-coded data, up to the next marker that is neither a
            // stuffed byte (FF 00) nor a restart (FF D0-D7).
            let data = scan_length(&bytes[at..]);
            out.extend_from_slice(&bytes[at..at + data]);
            at += data;
        }
    }
    Err(bad("the image has no end"))
}

/// How many bytes of entropy-coded data `bytes` starts with.
fn scan_length(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at + 1 < bytes.len() {
        if bytes[at] == 0xff && !matches!(bytes[at + 1], 0x00 | 0xd0..=0xd7) {
            return at;
        }
        at += 1;
    }
    bytes.len()
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

    /// A JPEG of `width` by `height` with an EXIF segment (saying to turn
    /// it if `orientation` is given), a comment, and a page after its end.
    fn jpeg_with_metadata(width: u32, height: u32, orientation: Option<u8>) -> Vec<u8> {
        let image = DynamicImage::new_rgb8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        let jpeg = out.into_inner();
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        match orientation {
            Some(turn) => exif.extend_from_slice(&[0, 1, 1, 0x12, 0, 3, 0, 0, 0, 1, 0, turn, 0, 0]),
            None => exif.extend_from_slice(&[0, 0]),
        }
        exif.extend_from_slice(b"\0\0\0\0GPS 37.5665N");
        let segment = |marker: u8, body: &[u8]| {
            let mut segment = vec![0xff, marker];
            segment.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
            segment.extend_from_slice(body);
            segment
        };
        let after = b"<html><script>alert(1)</script>";
        [
            &jpeg[..2],
            &segment(0xe1, &exif),
            &segment(0xfe, b"secret note"),
            &jpeg[2..],
            after,
        ]
        .concat()
    }

    #[test]
    fn a_jpeg_loses_its_metadata_and_what_follows_it() {
        let jpeg = jpeg_with_metadata(64, 32, None);
        let prepared = prepare(Bytes::from(jpeg)).unwrap();
        let kept = &prepared.bytes[..];
        for hidden in [&b"Exif"[..], b"GPS", b"secret", b"<html"] {
            assert!(
                !kept.windows(hidden.len()).any(|w| w == hidden),
                "{hidden:?} kept"
            );
        }
        let shown = image::load_from_memory(kept).unwrap();
        assert_eq!((shown.width(), shown.height()), (64, 32));
    }

    #[test]
    fn a_jpeg_to_be_turned_is_turned_upright() {
        // 6: turn a quarter clockwise.
        let prepared = prepare(Bytes::from(jpeg_with_metadata(64, 32, Some(6)))).unwrap();
        assert_eq!((prepared.width, prepared.height), (32, 64));
        let shown = image::load_from_memory(&prepared.bytes).unwrap();
        assert_eq!((shown.width(), shown.height()), (32, 64));
        assert!(!prepared.bytes.windows(4).any(|w| w == b"Exif"));
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

//! Image work, in process: decoding with limits, JPEG encoding, procedural
//! generation, edits, style transfer and text.

pub mod edit;
pub mod generate;
pub mod style;
pub mod text;

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::ApiError;

/// The largest width or height of an image the server decodes.
pub const MAX_DIMENSION: u32 = 8192;
/// The most memory one decode may allocate.
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;
/// The JPEG quality of every stored image.
const JPEG_QUALITY: u8 = 90;

/// Image formats the server reads, by their magic bytes.
pub fn sniff_image(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP) => {
            Some(f)
        }
        _ => None,
    }
}

/// Decodes an image (the first frame of an animation) to RGB.
///
/// The format is sniffed from the bytes; limits on dimensions and allocation are
/// set before decoding, so a small file that declares a huge image is refused
/// before any pixel buffer is allocated.
pub fn decode(bytes: &[u8], param: &str) -> Result<RgbImage, ApiError> {
    let format = sniff_image(bytes).ok_or_else(|| {
        ApiError::unsupported_media(format!(
            "the bytes at {param} are not a supported image (JPEG, PNG, GIF, WebP)"
        ))
        .with_param(param)
    })?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|err| match err {
        image::ImageError::Limits(_) => ApiError::too_large(format!(
            "the image at {param} is larger than {MAX_DIMENSION}x{MAX_DIMENSION} pixels"
        ))
        .with_param(param),
        other => ApiError::unsupported_media(format!(
            "the image at {param} could not be decoded: {other}"
        ))
        .with_param(param),
    })?;
    Ok(image.to_rgb8())
}

/// Encodes an RGB image as JPEG.
pub fn encode_jpeg(image: &RgbImage) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(image.len() / 8);
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    DynamicImage::ImageRgb8(image.clone())
        .write_with_encoder(encoder)
        .map_err(ApiError::internal)?;
    Ok(out)
}

/// Width and height of an encoded image, read from its header only.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_file_declaring_a_huge_image_is_refused_before_decoding() {
        // A valid PNG header declaring 100000 x 100000 pixels, and no pixel data.
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(b"IHDR");
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32fast::hash(&ihdr).to_be_bytes());
        let err = decode(&png, "image_url").expect_err("refused");
        assert_eq!(err.status.as_u16(), 413, "{err}");
    }

    #[test]
    fn non_images_are_415() {
        let err = decode(b"hello world, not an image", "image_url").expect_err("refused");
        assert_eq!(err.status.as_u16(), 415);
    }
}

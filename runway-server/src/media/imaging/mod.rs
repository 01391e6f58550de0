//! Image work, in process: decoding with limits, JPEG encoding, procedural
//! generation, edits, style transfer and text.

pub mod edit;
pub mod generate;
pub mod neural;
pub mod text;

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, RgbImage};

use crate::domain::Error;

/// Why image work failed.
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// The bytes are not a JPEG, PNG, GIF or WebP image.
    #[error("not a supported image (JPEG, PNG, GIF, WebP)")]
    NotAnImage,
    /// The image is larger than the decoding limits.
    #[error("larger than {MAX_DIMENSION}x{MAX_DIMENSION} pixels")]
    TooLarge,
    /// The image is of a supported format but does not decode.
    #[error("could not be decoded: {0}")]
    Undecodable(String),
    /// The server's own image work failed (encoding, resizing, the font).
    #[error("{0}")]
    Internal(String),
}

impl ImagingError {
    /// The error of a media input in `param` that is not a usable image: 415, or
    /// 413 when it is too large; a failure of the server's own work is 500.
    pub fn for_input(self, param: &str) -> Error {
        match self {
            ImagingError::NotAnImage => Error::unsupported_media(format!(
                "the bytes at {param} are not a supported image (JPEG, PNG, GIF, WebP)"
            )),
            ImagingError::Undecodable(reason) => Error::unsupported_media(format!(
                "the image at {param} could not be decoded: {reason}"
            )),
            ImagingError::TooLarge => Error::too_large(format!("the image at {param} is {self}")),
            ImagingError::Internal(_) => return Error::internal(self),
        }
        .with_param(param)
    }
}

impl From<ImagingError> for Error {
    /// Image work on the server's own data (renders, encodes): its failure is ours.
    fn from(err: ImagingError) -> Self {
        Error::internal(err)
    }
}

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
pub fn decode(bytes: &[u8]) -> Result<RgbImage, ImagingError> {
    let format = sniff_image(bytes).ok_or(ImagingError::NotAnImage)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|err| match err {
        image::ImageError::Limits(_) => ImagingError::TooLarge,
        other => ImagingError::Undecodable(other.to_string()),
    })?;
    Ok(image.into_rgb8())
}

/// Encodes an RGB image as JPEG (`jpeg-encoder`, with AVX2 where the CPU has it).
pub fn encode_jpeg(image: &RgbImage) -> Result<Vec<u8>, ImagingError> {
    let internal =
        |e: &dyn std::fmt::Display| ImagingError::Internal(format!("JPEG encoding: {e}"));
    let side = |v: u32| u16::try_from(v).map_err(|e| internal(&e));
    let mut out = Vec::with_capacity(image.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
        .encode(
            image.as_raw(),
            side(image.width())?,
            side(image.height())?,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| internal(&e))?;
    Ok(out)
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
        let err = decode(&png).expect_err("refused");
        assert!(matches!(err, ImagingError::TooLarge), "{err}");
    }

    #[test]
    fn non_images_are_refused_as_such() {
        let err = decode(b"hello world, not an image").expect_err("refused");
        assert!(matches!(err, ImagingError::NotAnImage), "{err}");
    }
}

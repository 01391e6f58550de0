//! `edit-image`: colour adjustment, filters and resizing.

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{Rgb, RgbImage};

use super::ImagingError;
use crate::domain::op::{ColorAdjust, Filter};

/// The weights of red, green and blue in luminance (Rec. 709).
const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

fn luma(r: f32, g: f32, b: f32) -> f32 {
    LUMA[0] * r + LUMA[1] * g + LUMA[2] * b
}

/// Rounds to the nearest byte value, saturating (a float-to-int `as` saturates,
/// and NaN becomes 0): cheaper than `round` and `clamp`, which the compiler does
/// not vectorize.
fn clamp_u8(v: f32) -> u8 {
    (v + 0.5) as u8
}

/// Applies a colour adjustment in place.
pub fn color_adjust(image: &mut RgbImage, adjust: ColorAdjust) {
    if adjust.hue_rotate != 0 {
        image::imageops::colorops::huerotate_in_place(image, adjust.hue_rotate);
    }
    let offset = adjust.brightness * 255.0;
    let contrast = 1.0 + adjust.contrast;
    let saturation = 1.0 + adjust.saturation;
    for Rgb(px) in image.pixels_mut() {
        let [r, g, b] = px.map(f32::from);
        let l = luma(r, g, b);
        let adjusted = [r, g, b].map(|c| {
            let saturated = l + (c - l) * saturation;
            (saturated - 128.0) * contrast + 128.0 + offset
        });
        *px = adjusted.map(clamp_u8);
    }
}

/// Applies a filter.
pub fn apply_filter(image: RgbImage, filter: Filter) -> RgbImage {
    match filter {
        Filter::Sepia => apply_matrix(
            image,
            [
                [0.393, 0.769, 0.189],
                [0.349, 0.686, 0.168],
                [0.272, 0.534, 0.131],
            ],
        ),
        Filter::BlackAndWhite => apply_matrix(image, [LUMA, LUMA, LUMA]),
        Filter::Invert => {
            let mut image = image;
            image.iter_mut().for_each(|c| *c = 255 - *c);
            image
        }
        Filter::Blur => image::imageops::fast_blur(&image, 3.0),
        Filter::Sharpen => image::imageops::unsharpen(&image, 1.5, 2),
    }
}

/// Applies a 3x3 colour matrix (output channel by input channel) in fixed point
/// (1/1024ths), rounding and saturating each channel.
fn apply_matrix(mut image: RgbImage, matrix: [[f32; 3]; 3]) -> RgbImage {
    let matrix = matrix.map(|row| row.map(|c| (c * 1024.0).round() as i32));
    for px in image.chunks_exact_mut(3) {
        let [r, g, b] = [px[0], px[1], px[2]].map(i32::from);
        for (out, row) in px.iter_mut().zip(&matrix) {
            *out = ((row[0] * r + row[1] * g + row[2] * b + 512) >> 10).clamp(0, 255) as u8;
        }
    }
    image
}

/// The target size of a resize: both given, or one given and the other following
/// the aspect ratio (at least 1 pixel).
pub fn target_size(from: (u32, u32), width: Option<u32>, height: Option<u32>) -> (u32, u32) {
    let (w, h) = (from.0.max(1) as f64, from.1.max(1) as f64);
    match (width, height) {
        (Some(tw), Some(th)) => (tw, th),
        (Some(tw), None) => (tw, ((tw as f64 * h / w).round() as u32).max(1)),
        (None, Some(th)) => (((th as f64 * w / h).round() as u32).max(1), th),
        (None, None) => from,
    }
}

/// Resizes with a Lanczos3 filter (SIMD, via fast_image_resize).
pub fn resize(image: &RgbImage, width: u32, height: u32) -> Result<RgbImage, ImagingError> {
    resize_with(image, width, height, lanczos3())
}

/// Resizes to fill `width` x `height` without distortion: scaled to cover it,
/// then centre cropped.
pub fn resize_to_fill(image: &RgbImage, width: u32, height: u32) -> Result<RgbImage, ImagingError> {
    resize_with(
        image,
        width,
        height,
        lanczos3().fit_into_destination(Some((0.5, 0.5))),
    )
}

fn lanczos3() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(
        fast_image_resize::FilterType::Lanczos3,
    ))
}

fn resize_with(
    image: &RgbImage,
    width: u32,
    height: u32,
    options: ResizeOptions,
) -> Result<RgbImage, ImagingError> {
    let internal = |e: &dyn std::fmt::Display| ImagingError::Internal(format!("resize: {e}"));
    let (sw, sh) = image.dimensions();
    let src = FirImage::from_vec_u8(sw, sh, image.as_raw().clone(), PixelType::U8x3)
        .map_err(|e| internal(&e))?;
    let mut dst = FirImage::new(width, height, PixelType::U8x3);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| internal(&e))?;
    RgbImage::from_raw(width, height, dst.into_vec())
        .ok_or_else(|| internal(&"a buffer of the wrong size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_side_keeps_the_aspect_ratio() {
        assert_eq!(target_size((1024, 768), Some(320), None), (320, 240));
        assert_eq!(target_size((1024, 768), None, Some(200)), (267, 200));
        assert_eq!(target_size((4000, 10), Some(10), None), (10, 1));
        assert_eq!(target_size((10, 10), Some(3), Some(7)), (3, 7));
    }

    #[test]
    fn filling_crops_what_does_not_fit_and_keeps_the_middle() {
        // A square: left half red, right half blue, a green band in the middle.
        let image = RgbImage::from_fn(200, 200, |x, _| match x {
            90..110 => Rgb([0, 255, 0]),
            0..90 => Rgb([255, 0, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let wide = resize_to_fill(&image, 100, 20).expect("resized");
        assert_eq!(wide.dimensions(), (100, 20));
        // Not squashed: the 20-pixel band is still 10 pixels wide at half size,
        // and the halves stay red and blue.
        assert!(wide.get_pixel(50, 10)[1] > 200);
        assert!(wide.get_pixel(40, 10)[1] < 60 && wide.get_pixel(40, 10)[0] > 200);
        assert!(wide.get_pixel(60, 10)[2] > 200);
        let tall = resize_to_fill(&image, 20, 100).expect("resized");
        assert_eq!(tall.dimensions(), (20, 100));
        // The middle fifth of the width, grown: the band covers half of it.
        assert!(tall.get_pixel(10, 50)[1] > 200);
        assert!(tall.get_pixel(1, 50)[0] > 200);
    }

    #[test]
    fn sepia_warms_grey() {
        let image = RgbImage::from_pixel(2, 2, Rgb([128, 128, 128]));
        let out = apply_filter(image, Filter::Sepia);
        let Rgb([r, g, b]) = *out.get_pixel(0, 0);
        assert!(r > g && g > b, "{r} {g} {b}");
    }

    #[test]
    fn resize_gives_the_exact_size() {
        let image = RgbImage::from_pixel(100, 50, Rgb([10, 200, 30]));
        let out = resize(&image, 33, 77).expect("resize");
        assert_eq!(out.dimensions(), (33, 77));
        assert_eq!(*out.get_pixel(5, 5), Rgb([10, 200, 30]));
    }
}

//! `style-transfer` by a neural network: Magenta's arbitrary image stylization
//! (Ghiasi et al., "Exploring the structure of a real-time, arbitrary neural
//! artistic stylization network", 2017), run in process on the CPU with
//! `tract` (pure Rust ONNX inference). Two networks, int8, embedded in the
//! binary (`runway-server/models/magenta-arbitrary/`, Apache-2.0, with their
//! SHA-256 checked by a test):
//!
//! - the style predictor: the style image, centre-cropped to a square of
//!   256x256, gives a vector of 100 numbers;
//! - the transformer: a 384x384 content image and that vector give the
//!   stylized 384x384 image.
//!
//! The content is worked on at [`WORKING_SIDE`] pixels on its longer side (the
//! scale the network paints its strokes at, and what keeps a 1024x768 picture
//! under a second on one core), in 384x384 tiles that overlap and are blended
//! with feathered weights (no seams), then scaled back to the content's own size
//! and blended with it by `strength`. The networks are loaded once, at the first
//! use.

use std::sync::{Arc, OnceLock};

use image::{Rgb, RgbImage};
use tract_onnx::prelude::*;

use super::ImagingError;
use super::edit::{resize, resize_to_fill};

/// The style predictor (Magenta's `arbitrary_predict`, int8).
static PREDICT_ONNX: &[u8] =
    include_bytes!("../../../models/magenta-arbitrary/arbitrary_predict.onnx");
/// The style transformer (Magenta's `arbitrary_transform`, int8).
static TRANSFORM_ONNX: &[u8] =
    include_bytes!("../../../models/magenta-arbitrary/arbitrary_transform.onnx");

/// The side of the predictor's square input.
const STYLE_SIDE: usize = 256;
/// The side of the transformer's square input.
const TILE: usize = 384;
/// The least overlap of two neighbouring tiles, blended across.
const OVERLAP: usize = 64;
/// The content's longer side while it is stylized.
pub const WORKING_SIDE: u32 = 512;

type Network = Arc<TypedRunnableModel>;

/// The two networks, ready to run.
struct Networks {
    predict: Network,
    transform: Network,
}

fn load(onnx: &[u8], inputs: &[&[usize]]) -> TractResult<Network> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &*onnx)?;
    for (i, shape) in inputs.iter().enumerate() {
        model = model.with_input_fact(i, f32::fact(*shape).into())?;
    }
    model.into_optimized()?.into_runnable()
}

/// The networks, loaded at the first call (about half a second).
fn networks() -> Result<&'static Networks, ImagingError> {
    static NETWORKS: OnceLock<Result<Networks, String>> = OnceLock::new();
    NETWORKS
        .get_or_init(|| {
            let started = std::time::Instant::now();
            let loaded = (|| {
                Ok::<_, TractError>(Networks {
                    predict: load(PREDICT_ONNX, &[&[1, STYLE_SIDE, STYLE_SIDE, 3]])?,
                    transform: load(TRANSFORM_ONNX, &[&[1, TILE, TILE, 3], &[1, 1, 1, 100]])?,
                })
            })()
            .map_err(|e| format!("{e:#}"));
            tracing::info!(
                ms = started.elapsed().as_millis() as u64,
                ok = loaded.is_ok(),
                "style transfer networks loaded"
            );
            loaded
        })
        .as_ref()
        .map_err(|e| ImagingError::Internal(format!("the style network: {e}")))
}

fn failed(e: TractError) -> ImagingError {
    ImagingError::Internal(format!("the style network: {e:#}"))
}

/// An NHWC tensor of `width` x `height` pixels read by `pixel(x, y)`, in 0..1.
fn tensor(width: usize, height: usize, pixel: impl Fn(usize, usize) -> Rgb<u8>) -> Tensor {
    tract_ndarray::Array4::from_shape_fn((1, height, width, 3), |(_, y, x, c)| {
        f32::from(pixel(x, y)[c]) / 255.0
    })
    .into()
}

/// The style vector of `style`.
fn style_vector(networks: &Networks, style: &RgbImage) -> Result<TValue, ImagingError> {
    let side = STYLE_SIDE as u32;
    let small = resize_to_fill(style, side, side)?;
    let input = tensor(STYLE_SIDE, STYLE_SIDE, |x, y| {
        *small.get_pixel(x as u32, y as u32)
    });
    let mut out = networks.predict.run(tvec!(input.into())).map_err(failed)?;
    out.pop()
        .ok_or_else(|| ImagingError::Internal("the style predictor gave nothing".into()))
}

/// `n`, mirrored into `0..len` (the reflection of a tile that passes an edge).
fn reflect(n: usize, len: usize) -> usize {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let n = n % period;
    if n < len { n } else { period - n }
}

/// Where the tiles along an axis of `len` pixels start: evenly spread, each
/// `TILE` long, neighbours overlapping by at least `OVERLAP`.
fn tile_starts(len: usize) -> Vec<usize> {
    if len <= TILE {
        return vec![0];
    }
    let count = (len - OVERLAP).div_ceil(TILE - OVERLAP);
    (0..count)
        .map(|i| (i * (len - TILE) + (count - 1) / 2) / (count - 1))
        .collect()
}

/// A tile pixel's weight in the blend: rising from its edges over `OVERLAP`.
fn feather(at: usize) -> f32 {
    let from_edge = at.min(TILE - 1 - at) + 1;
    (from_edge as f32 / OVERLAP as f32).min(1.0)
}

/// `content` in the style of `style`, at the content's size, blended with it by
/// `strength` (0: the content, 1: fully stylized).
pub fn stylize(
    content: &RgbImage,
    style: &RgbImage,
    strength: f32,
) -> Result<RgbImage, ImagingError> {
    let networks = networks()?;
    let vector = style_vector(networks, style)?;

    let (width, height) = content.dimensions();
    let scale = (WORKING_SIDE as f32 / width.max(height) as f32).min(1.0);
    let (ww, wh) = (
        ((width as f32 * scale).round() as u32).max(1),
        ((height as f32 * scale).round() as u32).max(1),
    );
    let working = resize(content, ww, wh)?;
    let (ww, wh) = (ww as usize, wh as usize);
    // Smaller than a tile: the tile reflects it (as the network was trained on).
    let (pw, ph) = (ww.max(TILE), wh.max(TILE));
    let mut sum = vec![0f32; pw * ph * 3];
    let mut weights = vec![0f32; pw * ph];
    for &ty in &tile_starts(ph) {
        for &tx in &tile_starts(pw) {
            let input = tensor(TILE, TILE, |x, y| {
                let sx = reflect(tx + x, ww);
                let sy = reflect(ty + y, wh);
                *working.get_pixel(sx as u32, sy as u32)
            });
            let mut out = networks
                .transform
                .run(tvec!(input.into(), vector.clone()))
                .map_err(failed)?;
            let out = out
                .pop()
                .ok_or_else(|| ImagingError::Internal("the style network gave nothing".into()))?
                .into_tensor();
            let out = out.to_plain_array_view::<f32>().map_err(failed)?;
            for y in 0..TILE {
                for x in 0..TILE {
                    let weight = feather(x) * feather(y);
                    let at = (ty + y) * pw + tx + x;
                    weights[at] += weight;
                    for c in 0..3 {
                        sum[at * 3 + c] += weight * out[[0, y, x, c]];
                    }
                }
            }
        }
    }
    let styled = RgbImage::from_fn(ww as u32, wh as u32, |x, y| {
        let at = y as usize * pw + x as usize;
        let w = weights[at].max(f32::EPSILON);
        Rgb(std::array::from_fn(|c| {
            (sum[at * 3 + c] / w * 255.0).round().clamp(0.0, 255.0) as u8
        }))
    });
    let styled = resize(&styled, width, height)?;
    let strength = strength.clamp(0.0, 1.0);
    Ok(RgbImage::from_fn(width, height, |x, y| {
        let a = content.get_pixel(x, y);
        let b = styled.get_pixel(x, y);
        Rgb(std::array::from_fn(|c| {
            (f32::from(a[c]) * (1.0 - strength) + f32::from(b[c]) * strength).round() as u8
        }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_an_axis_overlapping() {
        assert_eq!(tile_starts(300), [0]);
        assert_eq!(tile_starts(384), [0]);
        for len in [385, 512, 700, 1000, 1920] {
            let starts = tile_starts(len);
            assert_eq!(starts[0], 0);
            assert_eq!(
                *starts.last().expect("a tile") + TILE,
                len,
                "{len}: {starts:?}"
            );
            for pair in starts.windows(2) {
                assert!(pair[0] + TILE >= pair[1] + OVERLAP, "{len}: {starts:?}");
            }
        }
    }

    #[test]
    fn the_embedded_networks_are_the_published_files() {
        use sha2::{Digest, Sha256};
        let sums = include_str!("../../../models/magenta-arbitrary/SHA256SUMS");
        let hex = |bytes: &[u8]| -> String {
            Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        for (name, bytes) in [
            ("arbitrary_predict.onnx", PREDICT_ONNX),
            ("arbitrary_transform.onnx", TRANSFORM_ONNX),
        ] {
            let line = format!("{}  {name}", hex(bytes));
            assert!(sums.lines().any(|l| l == line), "{name}: {line}");
        }
        assert!(sums.contains("d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"));
        assert!(sums.contains("866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"));
    }

    /// The mean absolute difference of neighbouring pixels' luminance: how much
    /// fine detail (texture, edges) a picture has.
    fn detail(image: &RgbImage) -> f64 {
        let luma = |x, y| {
            let p = image.get_pixel(x, y);
            0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
        };
        let (w, h) = image.dimensions();
        let mut total = 0.0;
        for y in 0..h - 1 {
            for x in 0..w - 1 {
                total += (luma(x + 1, y) - luma(x, y)).abs() + (luma(x, y + 1) - luma(x, y)).abs();
            }
        }
        total / f64::from((w - 1) * (h - 1))
    }

    fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
        let total: f64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
            .sum();
        total / a.as_raw().len() as f64
    }

    #[test]
    fn a_textured_style_carries_its_texture_into_a_smooth_picture() {
        // A smooth gradient, larger than one tile (so tiles are blended).
        let content = RgbImage::from_fn(640, 400, |x, y| {
            Rgb([(x * 255 / 640) as u8, (y * 255 / 400) as u8, 160])
        });
        let stripes = RgbImage::from_fn(256, 256, |x, _| {
            if (x / 8) % 2 == 0 {
                Rgb([20, 20, 20])
            } else {
                Rgb([235, 220, 60])
            }
        });
        let dots = RgbImage::from_fn(256, 256, |x, y| {
            let (dx, dy) = ((x % 32) as i32 - 16, (y % 32) as i32 - 16);
            if dx * dx + dy * dy < 64 {
                Rgb([200, 30, 40])
            } else {
                Rgb([30, 60, 200])
            }
        });
        let striped = stylize(&content, &stripes, 1.0).expect("stylized");
        let dotted = stylize(&content, &dots, 1.0).expect("stylized");
        assert_eq!(
            striped.dimensions(),
            content.dimensions(),
            "the content's size"
        );
        let (before, after) = (detail(&content), detail(&striped));
        assert!(
            after > 4.0 * before,
            "fine detail {before:.2} -> {after:.2}"
        );
        assert!(detail(&dotted) > 4.0 * before);
        let apart = mean_difference(&striped, &dotted);
        assert!(apart > 25.0, "two styles, two pictures: {apart:.1}");
        // Strength 0 is the content itself.
        let untouched = stylize(&content, &stripes, 0.0).expect("stylized");
        assert!(mean_difference(&untouched, &content) < 0.5);
    }

    #[test]
    fn reflection_stays_inside() {
        assert_eq!(
            (0..8).map(|n| reflect(n, 4)).collect::<Vec<_>>(),
            [0, 1, 2, 3, 2, 1, 0, 1]
        );
        assert_eq!(reflect(5, 1), 0);
    }
}

//! Procedural text-to-image: no model weights exist here, so an image is drawn
//! deterministically from a seed derived from the prompt and style.
//!
//! - `photorealistic`: a sky gradient, a sun with a soft glow, three ridges of
//!   hills fading into the distance (aerial perspective), a lit ground.
//! - `sketch`: warm paper, the same kind of landscape drawn as dark pencil outlines
//!   with diagonal hatching, almost no colour.
//! - `abstract`: a saturated background under overlapping circles, rectangles and
//!   triangles in a bold palette.

use crate::domain::op::Style;
use crate::media::palette::{hsv, seed};
use image::{Rgb, RgbImage};
use imageproc::drawing::{
    draw_antialiased_line_segment_mut, draw_filled_circle_mut, draw_filled_rect_mut,
    draw_hollow_circle_mut, draw_polygon_mut,
};
use imageproc::pixelops::interpolate;
use imageproc::point::Point;
use imageproc::rect::Rect;

/// Draws the image for `prompt` in `style` at `width` x `height`; `request_seed`
/// draws another picture of the same prompt.
pub fn render(
    prompt: &str,
    style: Style,
    style_name: &str,
    request_seed: Option<u32>,
    width: u32,
    height: u32,
) -> RgbImage {
    let mut rng = fastrand::Rng::with_seed(seed(prompt, style_name, request_seed));
    match style {
        Style::Photorealistic => photorealistic(&mut rng, width, height),
        Style::Sketch => sketch(&mut rng, width, height),
        Style::Abstract => abstract_shapes(&mut rng, width, height),
    }
}

/// The heights of a ridge line across the image, as a sum of sines.
fn ridge(rng: &mut fastrand::Rng, width: u32, base: f32, amplitude: f32) -> Vec<f32> {
    let waves: Vec<(f32, f32, f32)> = (0..4)
        .map(|i| {
            let freq = (1.0 + rng.f32() * 2.0) * (i as f32 + 1.0);
            (
                freq,
                rng.f32() * std::f32::consts::TAU,
                amplitude / (i as f32 + 1.0),
            )
        })
        .collect();
    (0..width)
        .map(|x| {
            let t = x as f32 / width.max(1) as f32 * std::f32::consts::TAU;
            base + waves
                .iter()
                .map(|(f, p, a)| a * (t * f + p).sin())
                .sum::<f32>()
        })
        .collect()
}

fn photorealistic(rng: &mut fastrand::Rng, width: u32, height: u32) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let sky_hue = 180.0 + rng.f32() * 60.0 + if rng.bool() { 0.0 } else { 150.0 };
    let top = hsv(sky_hue, 0.55, 0.55);
    let horizon = hsv(sky_hue + 25.0, 0.25, 0.95);
    let sun = (rng.f32() * w, (0.15 + rng.f32() * 0.3) * h);
    let sun_radius = 0.05 * w.min(h) + rng.f32() * 0.04 * w.min(h);
    let mut image = RgbImage::from_fn(width, height, |x, y| {
        let t = y as f32 / h;
        let base = interpolate(horizon, top, t);
        let d = ((x as f32 - sun.0).powi(2) + (y as f32 - sun.1).powi(2)).sqrt();
        let glow = (1.0 - d / (sun_radius * 6.0)).clamp(0.0, 1.0).powi(2);
        let light = if d < sun_radius { 1.0 } else { glow * 0.7 };
        interpolate(Rgb([255, 244, 214]), base, light)
    });
    let land_hue = 70.0 + rng.f32() * 80.0;
    for layer in 0..3 {
        let depth = layer as f32 / 2.0; // 0 far .. 1 near
        let base = h * (0.45 + 0.15 * depth);
        let line = ridge(rng, width, base, h * (0.08 - 0.02 * depth));
        let far = hsv(sky_hue, 0.2, 0.75);
        let near = hsv(land_hue, 0.55, 0.25 + 0.15 * (1.0 - depth));
        let color = interpolate(near, far, 0.35 + 0.65 * depth);
        for (x, &top_y) in line.iter().enumerate() {
            let start = top_y.clamp(0.0, h) as u32;
            for y in start..height {
                // Shade: darker further below the ridge line.
                let shade = 1.0 - 0.25 * ((y - start) as f32 / h);
                let Rgb([r, g, b]) = color;
                let px = Rgb([
                    (r as f32 * shade) as u8,
                    (g as f32 * shade) as u8,
                    (b as f32 * shade) as u8,
                ]);
                image.put_pixel(x as u32, y, px);
            }
        }
    }
    image
}

fn sketch(rng: &mut fastrand::Rng, width: u32, height: u32) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let mut image = RgbImage::from_fn(width, height, |x, y| {
        let grain = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 9) as u8;
        Rgb([243 - grain, 238 - grain, 226 - grain])
    });
    let pencil = Rgb([58, 56, 54]);
    for layer in 0..3 {
        let base = h * (0.45 + 0.15 * layer as f32 / 2.0);
        let line = ridge(rng, width, base, h * 0.07);
        for stroke in 0..2 {
            let jitter = stroke as f32 * 1.5;
            for x in (0..width.saturating_sub(4)).step_by(4) {
                let (x0, x1) = (x as usize, (x + 4) as usize);
                draw_antialiased_line_segment_mut(
                    &mut image,
                    (x0 as i32, (line[x0] + jitter) as i32),
                    (x1 as i32, (line[x1.min(line.len() - 1)] + jitter) as i32),
                    pencil,
                    interpolate,
                );
            }
        }
        // Hatching below the nearest ridge.
        if layer == 2 {
            let spacing = (w.min(h) / 40.0).max(4.0) as usize;
            for x in (0..width as usize).step_by(spacing) {
                let y0 = line[x] + 4.0;
                let len = h * 0.12;
                draw_antialiased_line_segment_mut(
                    &mut image,
                    (x as i32, y0 as i32),
                    ((x as f32 - len * 0.6) as i32, (y0 + len) as i32),
                    Rgb([110, 106, 100]),
                    interpolate,
                );
            }
        }
    }
    let sun = ((0.2 + rng.f32() * 0.6) * w, (0.12 + rng.f32() * 0.2) * h);
    let radius = (w.min(h) * (0.05 + rng.f32() * 0.04)) as i32;
    for r in [radius, radius + 2] {
        draw_hollow_circle_mut(&mut image, (sun.0 as i32, sun.1 as i32), r, pencil);
    }
    image
}

fn abstract_shapes(rng: &mut fastrand::Rng, width: u32, height: u32) -> RgbImage {
    let (w, h) = (width as i32, height as i32);
    let base_hue = rng.f32() * 360.0;
    let palette: Vec<Rgb<u8>> = (0..5)
        .map(|i| hsv(base_hue + i as f32 * 72.0 + rng.f32() * 20.0, 0.85, 0.95))
        .collect();
    let mut image = RgbImage::from_pixel(width, height, hsv(base_hue + 180.0, 0.9, 0.55));
    let size = w.min(h).max(8);
    for _ in 0..(14 + rng.u32(0..10)) {
        let color = palette[rng.usize(0..palette.len())];
        let cx = rng.i32(0..w.max(1));
        let cy = rng.i32(0..h.max(1));
        let s = rng.i32(size / 10..size / 3 + 1).max(2);
        match rng.u8(0..3) {
            0 => draw_filled_circle_mut(&mut image, (cx, cy), s, color),
            1 => draw_filled_rect_mut(
                &mut image,
                Rect::at(cx - s, cy - s / 2).of_size((2 * s) as u32, s as u32),
                color,
            ),
            _ => {
                let points = [
                    Point::new(cx, cy - s),
                    Point::new(cx + s, cy + s),
                    Point::new(cx - s, cy + s + rng.i32(1..s + 2)),
                ];
                draw_polygon_mut(&mut image, &points, color);
            }
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_prompt_same_image_other_prompt_other_image() {
        let draw = |prompt| {
            render(
                prompt,
                Style::Photorealistic,
                "photorealistic",
                None,
                64,
                48,
            )
        };
        let (a, b, c) = (draw("a fox"), draw("a fox"), draw("a whale"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_size_renders() {
        for (w, h) in [(16, 16), (16, 2048), (2048, 16), (17, 31)] {
            for (style, name) in [
                (Style::Photorealistic, "photorealistic"),
                (Style::Sketch, "sketch"),
                (Style::Abstract, "abstract"),
            ] {
                let image = render("x", style, name, None, w, h);
                assert_eq!(image.dimensions(), (w, h));
            }
        }
    }
}

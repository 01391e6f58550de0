//! `style-transfer`: colour transfer in the CIE Lab space after Reinhard et al.,
//! "Color Transfer between Images" (2001): each channel's mean and standard
//! deviation are matched to the reference's.

use image::{Rgb, RgbImage};

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(c: f32) -> f32 {
    if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];

fn lab_f(t: f32) -> f32 {
    if t > 0.008_856 {
        t.cbrt()
    } else {
        7.787 * t + 16.0 / 116.0
    }
}

fn lab_f_inv(t: f32) -> f32 {
    if t > 0.206_893 {
        t * t * t
    } else {
        (t - 16.0 / 116.0) / 7.787
    }
}

/// sRGB (0..255) to CIE Lab (D65).
pub fn rgb_to_lab(Rgb(px): Rgb<u8>) -> [f32; 3] {
    let [r, g, b] = px.map(|c| srgb_to_linear(f32::from(c) / 255.0));
    let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / WHITE[0];
    let y = (0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b) / WHITE[1];
    let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / WHITE[2];
    let (fx, fy, fz) = (lab_f(x), lab_f(y), lab_f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE Lab (D65) to sRGB, clamped.
pub fn lab_to_rgb([l, a, b]: [f32; 3]) -> Rgb<u8> {
    let fy = (l + 16.0) / 116.0;
    let fx = fy + a / 500.0;
    let fz = fy - b / 200.0;
    let x = lab_f_inv(fx) * WHITE[0];
    let y = lab_f_inv(fy) * WHITE[1];
    let z = lab_f_inv(fz) * WHITE[2];
    let r = 3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z;
    let g = -0.969_266 * x + 1.876_010_8 * y + 0.041_556 * z;
    let bl = 0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z;
    Rgb([r, g, bl].map(|c| (linear_to_srgb(c.clamp(0.0, 1.0)) * 255.0).round() as u8))
}

/// Mean and standard deviation of each Lab channel.
pub fn lab_stats(pixels: &[[f32; 3]]) -> ([f32; 3], [f32; 3]) {
    let n = pixels.len().max(1) as f64;
    let mut mean = [0f64; 3];
    for p in pixels {
        for c in 0..3 {
            mean[c] += f64::from(p[c]);
        }
    }
    mean = mean.map(|m| m / n);
    let mut var = [0f64; 3];
    for p in pixels {
        for c in 0..3 {
            var[c] += (f64::from(p[c]) - mean[c]).powi(2);
        }
    }
    (mean.map(|m| m as f32), var.map(|v| (v / n).sqrt() as f32))
}

/// Lab values of every pixel.
pub fn to_lab(image: &RgbImage) -> Vec<[f32; 3]> {
    image.pixels().map(|p| rgb_to_lab(*p)).collect()
}

/// Moves `image`'s colours towards `reference`'s; `strength` 0 keeps the image, 1
/// is the full transfer.
pub fn transfer(image: &RgbImage, reference: &RgbImage, strength: f32) -> RgbImage {
    let source = to_lab(image);
    let (src_mean, src_std) = lab_stats(&source);
    let (ref_mean, ref_std) = lab_stats(&to_lab(reference));
    let (width, height) = image.dimensions();
    let mut out = RgbImage::new(width, height);
    for (px, lab) in out.pixels_mut().zip(&source) {
        let mut moved = [0f32; 3];
        for c in 0..3 {
            let scale = if src_std[c] > 1e-3 {
                ref_std[c] / src_std[c]
            } else {
                1.0
            };
            let full = (lab[c] - src_mean[c]) * scale + ref_mean[c];
            moved[c] = lab[c] + (full - lab[c]) * strength;
        }
        *px = lab_to_rgb(moved);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_round_trips() {
        for px in [[0, 0, 0], [255, 255, 255], [200, 30, 90], [12, 250, 128]] {
            let back = lab_to_rgb(rgb_to_lab(Rgb(px)));
            for c in 0..3 {
                assert!(
                    (i32::from(back.0[c]) - i32::from(px[c])).abs() <= 1,
                    "{px:?} {back:?}"
                );
            }
        }
    }

    #[test]
    fn transfer_moves_the_statistics_to_the_reference() {
        let image = RgbImage::from_fn(32, 32, |x, y| Rgb([(x * 8) as u8, (y * 8) as u8, 128]));
        let reference = RgbImage::from_fn(32, 32, |x, _| Rgb([200, 80 + x as u8, 20]));
        let out = transfer(&image, &reference, 1.0);
        let (ref_mean, _) = lab_stats(&to_lab(&reference));
        let (src_mean, _) = lab_stats(&to_lab(&image));
        let (out_mean, _) = lab_stats(&to_lab(&out));
        for c in 0..3 {
            assert!(
                (out_mean[c] - ref_mean[c]).abs() < (src_mean[c] - ref_mean[c]).abs(),
                "channel {c}: {out_mean:?} vs {ref_mean:?}"
            );
        }
        assert_eq!(
            transfer(&image, &reference, 0.0).dimensions(),
            image.dimensions()
        );
    }
}

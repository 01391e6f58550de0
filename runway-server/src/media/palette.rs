//! Seeds and colours shared by the procedural renders of images and videos.

use image::Rgb;
use sha2::{Digest, Sha256};

/// A 64-bit seed from the prompt and the style, and the request's seed when it
/// gave one (without one, the seed of earlier releases: the same prompt still
/// gives the same picture).
pub fn seed(prompt: &str, style_name: &str, request_seed: Option<u32>) -> u64 {
    let text = match request_seed {
        None => format!("{style_name}\u{0}{prompt}"),
        Some(seed) => format!("{style_name}\u{0}{prompt}\u{0}{seed}"),
    };
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// A colour from hue (degrees), saturation and value (0..1).
pub fn hsv(hue: f32, saturation: f32, value: f32) -> Rgb<u8> {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = value * saturation;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = value - c;
    let to = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb([to(r), to(g), to(b)])
}

//! `add-text-to-image`: text drawn with the embedded DejaVu Sans Bold font
//! (licence in `assets/DejaVu-LICENSE.txt`), wrapped to the image width, in white
//! with a dark outline so that it reads on any background.

use ab_glyph::{Font, FontRef, PxScale};
use image::{GrayImage, Luma, Rgb, RgbImage};
use imageproc::distance_transform::Norm;
use imageproc::drawing::{draw_text_mut, text_size};
use imageproc::morphology::dilate;

use super::ImagingError;
use crate::domain::op::Position;

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans-Bold.ttf");

/// The font size used when the request gives none: one twelfth of the height, at
/// least 12 pixels.
pub fn default_font_size(height: u32) -> f32 {
    (height as f32 / 12.0).max(12.0)
}

fn font() -> Result<FontRef<'static>, ImagingError> {
    FontRef::try_from_slice(FONT_BYTES).map_err(|e| ImagingError::Internal(format!("font: {e}")))
}

/// Replaces control characters (but line breaks) with spaces.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// Breaks `text` into lines no wider than `max_width`, keeping explicit breaks and
/// splitting words that are wider than a line.
pub fn wrap(text: &str, font: &impl Font, scale: PxScale, max_width: u32) -> Vec<String> {
    let width = |s: &str| text_size(scale, font, s).0;
    let mut lines = Vec::new();
    for paragraph in clean(text).split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate) <= max_width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the line is split by characters.
            for ch in word.chars() {
                let mut next = line.clone();
                next.push(ch);
                if width(&next) > max_width && !line.is_empty() {
                    lines.push(std::mem::replace(&mut line, ch.to_string()));
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    while lines.last().is_some_and(String::is_empty) && lines.len() > 1 {
        lines.pop();
    }
    lines
}

/// Draws `text` on `image` at `position`, `font_size` pixels high.
pub fn draw(
    image: &mut RgbImage,
    text: &str,
    position: Position,
    font_size: f32,
) -> Result<(), ImagingError> {
    let font = font()?;
    let (width, height) = image.dimensions();
    let margin = (width.min(height) as f32 / 40.0).round() as i32;
    let scale = PxScale::from(font_size);
    let max_width = (width as i32 - 2 * margin).max(1) as u32;
    let lines = wrap(text, &font, scale, max_width);
    let line_height = (font_size * 1.2).ceil() as i32;
    let block_height = line_height * lines.len() as i32;
    let Position::Grid(col, row) = position;
    let top = match row {
        0 => margin,
        1 => (height as i32 - block_height) / 2,
        _ => height as i32 - margin - block_height,
    };
    // The glyphs' coverage, drawn once; the outline is that shape grown by
    // `outline` pixels in every direction (a square dilation, one pass over the
    // image whatever the font size).
    let outline = ((font_size / 16.0).ceil() as u32).clamp(1, 255);
    let mut coverage = GrayImage::new(width, height);
    for (i, line) in lines.iter().enumerate() {
        let line_width = text_size(scale, &font, line).0 as i32;
        let left = match col {
            0 => margin,
            1 => (width as i32 - line_width) / 2,
            _ => width as i32 - margin - line_width,
        };
        let y = top + i as i32 * line_height;
        draw_text_mut(&mut coverage, Luma([255]), left, y, scale, &font, line);
    }
    let halo = dilate(&coverage, Norm::LInf, outline as u8);
    for ((pixel, Luma([alpha])), Luma([ring])) in
        image.pixels_mut().zip(coverage.pixels()).zip(halo.pixels())
    {
        if *ring == 0 {
            continue;
        }
        // A black outline under white text blended by its coverage: grey `alpha`.
        *pixel = Rgb([*alpha; 3]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_within_the_width() {
        let font = font().expect("font");
        let scale = PxScale::from(20.0);
        let lines = wrap(
            "the quick brown fox jumps over the lazy dog again and again",
            &font,
            scale,
            120,
        );
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(text_size(scale, &font, line).0 <= 120, "{line}");
        }
    }

    #[test]
    fn any_unicode_draws_without_panicking() {
        let mut image = RgbImage::new(50, 40);
        for text in ["😀🚀 日本語 ∑ \u{200d}\u{0}\t\r", "x", "\n\n", "ﷺ"] {
            draw(&mut image, text, Position::Grid(2, 2), 30.0).expect("draws");
        }
    }
}

//! A media operation, checked and ready to run, and the parameters of every
//! edit: what the contract's requests become before any media is read.

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// The longest video `generate-video` and `image-to-video` render, in seconds.
pub const MAX_RENDER_SECONDS: u32 = 10;

/// An image edit of `edit-image`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ImageEdit {
    /// `color-adjust`.
    Adjust(ColorAdjust),
    /// `add-filter`.
    Filter(Filter),
    /// `resize` to the given sides (the missing one follows the aspect ratio).
    Resize(Option<u32>, Option<u32>),
}

/// A checked media operation, ready to run. A task keeps it in its row (as
/// JSON, in this, the server's own format: `{"op": "trim", ...}`), so that any
/// replica can run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum MediaOp {
    /// `generate-image`.
    GenerateImage {
        prompt: String,
        style: Style,
        style_name: String,
        width: u32,
        height: u32,
        /// Another picture of the same prompt (`None`: the prompt's own).
        #[serde(default)]
        seed: Option<u32>,
        /// What not to show (for a delegated model).
        #[serde(default)]
        negative_prompt: Option<String>,
    },
    /// `edit-image`.
    EditImage { image_url: String, edit: ImageEdit },
    /// `add-text-to-image`.
    AddText {
        image_url: String,
        text: String,
        position: Position,
        font_size: Option<f32>,
    },
    /// `style-transfer`.
    StyleTransfer {
        image_url: String,
        style_reference: String,
        strength: f32,
    },
    /// `generate-video`.
    GenerateVideo {
        prompt: String,
        duration: u32,
        fps: u32,
        width: u32,
        height: u32,
        /// Another video of the same prompt (`None`: the prompt's own).
        #[serde(default)]
        seed: Option<u32>,
    },
    /// `image-to-video`.
    ImageToVideo {
        image_url: String,
        duration: u32,
        fps: u32,
        motion: Motion,
    },
    /// `edit-video` `trim`: `start`..`end` seconds (the end of the video by default).
    Trim {
        video_url: String,
        start: u32,
        end: Option<u32>,
    },
    /// `video-filter` and `edit-video` `add-filter`.
    FilterVideo {
        video_url: String,
        filter: VideoFilter,
    },
    /// `resize-video`.
    ResizeVideo {
        video_url: String,
        width: u32,
        height: u32,
    },
    /// `speed-adjust` and `edit-video` `adjust-speed`.
    Speed { video_url: String, factor: f64 },
    /// `generate-thumbnail` at `position` seconds.
    Thumbnail { video_url: String, position: u32 },
    /// `extract-audio`.
    ExtractAudio { video_url: String },
}

// ---------------------------------------------------------------- checks

/// `value` when it lies in `min..=max`, else 422 naming `param`.
pub(crate) fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    param: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T> {
    if value < min || value > max {
        return Err(Error::invalid(
            param,
            format!("{param} must be between {min} and {max} (got {value})"),
        ));
    }
    Ok(value)
}

/// A finite `value` in `min..=max`, else 422 naming `param`.
pub(crate) fn finite_in_range(param: &str, value: f64, min: f64, max: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(Error::invalid(param, format!("{param} must be a number")));
    }
    in_range(param, value, min, max)
}

/// An even `value` in `min..=max`, else 422 naming `param`.
pub(crate) fn even_in_range(param: &str, value: i64, min: i64, max: i64) -> Result<u32> {
    let value = in_range(param, value, min, max)?;
    if value % 2 != 0 {
        return Err(Error::invalid(
            param,
            format!("{param} must be even (got {value})"),
        ));
    }
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

/// The parameters of `color-adjust`, each neutral at 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColorAdjust {
    /// Added to every channel, as a fraction of full scale (-1..1).
    pub brightness: f32,
    /// Contrast change around mid-grey (-1..1).
    pub contrast: f32,
    /// Saturation change (-1..1).
    pub saturation: f32,
    /// Hue rotation in degrees.
    pub hue_rotate: i32,
}

/// An image filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Warm brown tones.
    Sepia,
    /// Luminance only.
    BlackAndWhite,
    /// The negative.
    Invert,
    /// Gaussian blur, sigma 3.
    Blur,
    /// Unsharp mask.
    Sharpen,
}

/// The look of a generated image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Smooth, shaded landscape.
    Photorealistic,
    /// Pencil on paper.
    Sketch,
    /// Bold geometric shapes.
    Abstract,
}

/// Where the text block is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Horizontal: 0 left, 1 centre, 2 right; vertical: 0 top, 1 centre, 2 bottom.
    Grid(u8, u8),
}

/// A video filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoFilter {
    /// Faded warm colours, vignette and grain.
    Vintage,
    /// Contrast, teal shadows, orange highlights, letterbox bars.
    Cinematic,
    /// Luminance only.
    BlackAndWhite,
    /// Warm brown tones.
    Sepia,
}

/// A camera move over an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    /// Towards the centre.
    ZoomIn,
    /// Away from the centre.
    ZoomOut,
    /// Right to left.
    PanLeft,
    /// Left to right.
    PanRight,
}

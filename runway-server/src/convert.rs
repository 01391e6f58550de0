//! Wire-to-domain conversions: the contract's enums (the SDK's generated types) into
//! the server's own, in one place.

use runway_api::types;

use crate::imaging::edit::Filter;
use crate::imaging::generate::Style;
use crate::imaging::text::Position;
use crate::video::{Motion, VideoFilter};

impl From<types::ImageStyle> for Style {
    fn from(style: types::ImageStyle) -> Self {
        match style {
            types::ImageStyle::Photorealistic => Style::Photorealistic,
            types::ImageStyle::Sketch => Style::Sketch,
            types::ImageStyle::Abstract => Style::Abstract,
        }
    }
}

impl From<types::ImageFilter> for Filter {
    fn from(filter: types::ImageFilter) -> Self {
        match filter {
            types::ImageFilter::Sepia => Filter::Sepia,
            types::ImageFilter::BlackAndWhite => Filter::BlackAndWhite,
            types::ImageFilter::Invert => Filter::Invert,
            types::ImageFilter::Blur => Filter::Blur,
            types::ImageFilter::Sharpen => Filter::Sharpen,
        }
    }
}

impl From<types::VideoFilter> for VideoFilter {
    fn from(filter: types::VideoFilter) -> Self {
        match filter {
            types::VideoFilter::Vintage => VideoFilter::Vintage,
            types::VideoFilter::Cinematic => VideoFilter::Cinematic,
            types::VideoFilter::BlackAndWhite => VideoFilter::BlackAndWhite,
            types::VideoFilter::Sepia => VideoFilter::Sepia,
        }
    }
}

impl From<types::TextPosition> for Position {
    fn from(position: types::TextPosition) -> Self {
        use types::TextPosition as P;
        match position {
            P::TopLeft => Position::Grid(0, 0),
            P::TopCenter => Position::Grid(1, 0),
            P::TopRight => Position::Grid(2, 0),
            P::CenterLeft => Position::Grid(0, 1),
            P::Center => Position::Grid(1, 1),
            P::CenterRight => Position::Grid(2, 1),
            P::BottomLeft => Position::Grid(0, 2),
            P::BottomCenter => Position::Grid(1, 2),
            P::BottomRight => Position::Grid(2, 2),
        }
    }
}

impl From<types::CameraMotion> for Motion {
    fn from(motion: types::CameraMotion) -> Self {
        match motion {
            types::CameraMotion::ZoomIn => Motion::ZoomIn,
            types::CameraMotion::ZoomOut => Motion::ZoomOut,
            types::CameraMotion::PanLeft => Motion::PanLeft,
            types::CameraMotion::PanRight => Motion::PanRight,
        }
    }
}

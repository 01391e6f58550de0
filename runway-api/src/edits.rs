//! Builders of the union requests: one per edit of `edit_image` and `edit_video`.
//!
//! The generated enums take every field of a variant at once (a colour
//! adjustment needed all four numbers, though the API leaves each out as 0);
//! these builders take each field by itself, checked, and defer a refused value
//! to `send()` (or `try_into()`), which names the field:
//!
//! ```no_run
//! use runway_api::prelude::*;
//!
//! # async fn run(client: Client, url: String) -> Result<(), RunwayError> {
//! let resized = client
//!     .edit_image()
//!     .body(types::EditImageRequest::resize(&url).width(320))
//!     .send()
//!     .await?;
//! let warmer = client
//!     .edit_image()
//!     .body(types::EditImageRequest::color_adjust(&resized.edited_image_url).hue_rotate(-20))
//!     .send()
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt::Display;

use crate::{Adjustment, Int, MediaUrl, SpeedFactor, types};

/// `value` converted for field `name`, or the message the generated builders give
/// (so that the error of `send()` names the field).
fn field<T, V>(name: &str, value: V) -> Result<T, String>
where
    V: TryInto<T>,
    V::Error: Display,
{
    value
        .try_into()
        .map_err(|e| format!("error converting supplied value for {name}: {e}"))
}

/// Declares a builder: its fields (each a `Result` of its wire value), its
/// constructor on the union, its setters, and its conversion into the union.
macro_rules! edit_builder {
    (
        $(#[$doc:meta])*
        $builder:ident for $union:ident :: $variant:ident,
        new $ctor:ident($($arg:ident : $arg_ty:ty = $arg_field:literal),*),
        fields { $($field:ident : $ty:ty = $init:expr),* $(,)? },
        setters { $($(#[$sdoc:meta])* $setter:ident($wire:literal) -> $sfield:ident : $sty:ty),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        #[must_use = "a request builder does nothing until it is sent"]
        pub struct $builder {
            $($arg: Result<$arg_ty, String>,)*
            $($field: Result<$ty, String>,)*
        }

        impl types::$union {
            #[doc = concat!("Starts a [`", stringify!($builder), "`]: `", stringify!($union), "::", stringify!($variant), "`.")]
            pub fn $ctor($($arg: impl TryInto<$arg_ty, Error: Display>),*) -> $builder {
                $builder {
                    $($arg: field($arg_field, $arg),)*
                    $($field: $init,)*
                }
            }
        }

        impl $builder {
            $(
                $(#[$sdoc])*
                pub fn $setter<V>(mut self, value: V) -> Self
                where
                    V: TryInto<$sty>,
                    V::Error: Display,
                {
                    self.$sfield = field::<$sty, V>($wire, value).map(Into::into);
                    self
                }
            )*
        }

        impl TryFrom<$builder> for types::$union {
            type Error = types::error::ConversionError;
            fn try_from(builder: $builder) -> Result<Self, Self::Error> {
                Ok(types::$union::$variant {
                    $($arg: builder.$arg?,)*
                    $($field: builder.$field?,)*
                })
            }
        }
    };
}

edit_builder! {
    /// A resize of an image: `EditImageRequest::resize(url).width(320)`. With one
    /// side given the other follows the aspect ratio; with both the image is
    /// scaled to exactly that size.
    ResizeImage for EditImageRequest::Resize,
    new resize(image_url: MediaUrl = "image_url"),
    fields {
        resize_width: Option<Int<1, 8192>> = Ok(None),
        resize_height: Option<Int<1, 8192>> = Ok(None),
    },
    setters {
        /// The new width in pixels, from 1 to 8192 (`resize_width`).
        width("resize_width") -> resize_width: Int<1, 8192>,
        /// The new height in pixels, from 1 to 8192 (`resize_height`).
        height("resize_height") -> resize_height: Int<1, 8192>,
    }
}

edit_builder! {
    /// A colour adjustment of an image; each value left out is 0 (unchanged):
    /// `EditImageRequest::color_adjust(url).saturation(0.5)`.
    ColorAdjustImage for EditImageRequest::ColorAdjust,
    new color_adjust(image_url: MediaUrl = "image_url"),
    fields {
        brightness: Adjustment = Ok(Adjustment::ZERO),
        contrast: Adjustment = Ok(Adjustment::ZERO),
        saturation: Adjustment = Ok(Adjustment::ZERO),
        hue_rotate: Int<-180, 180> = field("hue_rotate", 0),
    },
    setters {
        /// Added to every channel as a fraction of full scale, from -1 to 1.
        brightness("brightness") -> brightness: Adjustment,
        /// The contrast change around mid-grey, from -1 to 1.
        contrast("contrast") -> contrast: Adjustment,
        /// The saturation change, from -1 (grey) to 1.
        saturation("saturation") -> saturation: Adjustment,
        /// Degrees to rotate every hue by, from -180 to 180.
        hue_rotate("hue_rotate") -> hue_rotate: Int<-180, 180>,
    }
}

edit_builder! {
    /// One filter on an image: `EditImageRequest::add_filter(url, ImageFilter::Sepia)`.
    FilterImage for EditImageRequest::AddFilter,
    new add_filter(image_url: MediaUrl = "image_url", filter: types::ImageFilter = "filter"),
    fields {},
    setters {}
}

edit_builder! {
    /// The part of a video to keep: `EditVideoRequest::trim(url).start_time(1).end_time(3)`
    /// (from 0 and to the end unless given).
    TrimVideo for EditVideoRequest::Trim,
    new trim(video_url: MediaUrl = "video_url"),
    fields {
        start_time: Int<0, 3600> = field("start_time", 0),
        end_time: Option<Int<1, 3600>> = Ok(None),
    },
    setters {
        /// Where the kept part ends, in seconds, from 1 to 3600; after `start_time`.
        end_time("end_time") -> end_time: Int<1, 3600>,
    }
}

impl TrimVideo {
    /// Where the kept part starts, in seconds, from 0 to 3600.
    pub fn start_time<V>(mut self, value: V) -> Self
    where
        V: TryInto<Int<0, 3600>>,
        V::Error: Display,
    {
        self.start_time = field("start_time", value);
        self
    }
}

edit_builder! {
    /// One filter on a video: `EditVideoRequest::add_filter(url, VideoFilter::Vintage)`.
    FilterVideo for EditVideoRequest::AddFilter,
    new add_filter(video_url: MediaUrl = "video_url", filter: types::VideoFilter = "filter"),
    fields {},
    setters {}
}

edit_builder! {
    /// A video played faster or slower: `EditVideoRequest::adjust_speed(url, 2)`.
    AdjustVideoSpeed for EditVideoRequest::AdjustSpeed,
    new adjust_speed(video_url: MediaUrl = "video_url", speed_factor: SpeedFactor = "speed_factor"),
    fields {},
    setters {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunwayError;

    const URL: &str = "https://example.com/images/a.jpg";

    #[test]
    fn a_colour_adjustment_takes_only_what_is_given() -> Result<(), RunwayError> {
        let request: types::EditImageRequest = types::EditImageRequest::color_adjust(URL)
            .saturation(0.5)
            .try_into()?;
        let json =
            serde_json::to_value(&request).map_err(|e| RunwayError::Config(e.to_string()))?;
        assert_eq!(
            json,
            serde_json::json!({
                "edit_type": "color-adjust", "image_url": URL,
                "brightness": 0.0, "contrast": 0.0, "saturation": 0.5, "hue_rotate": 0
            })
        );
        Ok(())
    }

    #[test]
    fn a_value_out_of_bounds_names_its_wire_field() {
        let answer = String::from(URL);
        let err: RunwayError =
            types::EditImageRequest::try_from(types::EditImageRequest::resize(&answer).width(0))
                .map(drop)
                .map_err(RunwayError::from)
                .expect_err("0 is refused");
        assert_eq!(err.param(), Some("resize_width"));
        assert!(
            err.to_string().contains("must be from 1 to 8192, got 0"),
            "{err}"
        );

        let err = types::EditVideoRequest::try_from(types::EditVideoRequest::adjust_speed(URL, 9))
            .map(drop)
            .map_err(RunwayError::from)
            .expect_err("9 is refused");
        assert_eq!(err.param(), Some("speed_factor"));

        let err = types::EditImageRequest::try_from(types::EditImageRequest::add_filter(
            "not a url",
            types::ImageFilter::Sepia,
        ))
        .map(drop)
        .map_err(RunwayError::from)
        .expect_err("not a URL");
        assert_eq!(err.param(), Some("image_url"));
    }
}

//! Checked values of requests: media URLs, task ids and bounded numbers.
//!
//! The generator puts these types wherever the contract names them (see
//! `runway-api-gen`'s `rust_types`), so a request cannot carry a value the
//! contract refuses: builders take plain values (`.duration(5)`, `.width(640)`,
//! `.image_url(&answer.image_url)`) and a value out of bounds fails the request
//! before anything is sent, with [`RunwayError::param`](crate::RunwayError::param)
//! naming the field. Each type can also be built on its own, checked:
//! `VideoDuration::new(5)?`, `MediaUrl::try_from(&url)?`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value the contract refuses, found before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(Cow<'static, str>);

impl InvalidValue {
    fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self(message.into())
    }
}

/// The longest media URL the contract takes (a `data:` URI carries the bytes).
const MAX_MEDIA_URL_CHARS: usize = 70_000_000;

/// Media to read, as the contract takes it: a URL this API answered, another
/// `http(s)` URL, or a `data:` URI with the bytes.
///
/// Made from `&str`, `String` or `&String` (a URL of an answer goes into the next
/// request as it is); the form is checked, the media themselves by the server.
///
/// ```
/// use runway_api::MediaUrl;
///
/// assert!(MediaUrl::try_from("https://api.example.com/images/img_1.jpg").is_ok());
/// assert!(MediaUrl::try_from("data:image/png;base64,iVBORw0KGgo=").is_ok());
/// assert!(MediaUrl::try_from("not a url").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct MediaUrl(String);

impl MediaUrl {
    /// Checks `url` and wraps it.
    pub fn new(url: impl Into<String>) -> Result<Self, InvalidValue> {
        let url = url.into();
        check_media_url(&url)?;
        Ok(Self(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_media_url(url: &str) -> Result<(), InvalidValue> {
    if url.is_empty() {
        return Err(InvalidValue::new("a media URL must not be empty"));
    }
    if url.len() > MAX_MEDIA_URL_CHARS && url.chars().count() > MAX_MEDIA_URL_CHARS {
        return Err(InvalidValue::new(
            "a media URL is at most 70000000 characters",
        ));
    }
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("data") if url.contains(',') => Ok(()),
        Some("data") => Err(InvalidValue::new(
            "a data: URI needs a comma before its bytes (data:image/png;base64,...)",
        )),
        Some("http" | "https") => match reqwest::Url::parse(url) {
            Ok(parsed) if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            Ok(_) => Err(InvalidValue::new(format!("`{url}` has no host"))),
            Err(err) => Err(InvalidValue::new(format!("`{url}` is not a URL: {err}"))),
        },
        _ => Err(InvalidValue::new(format!(
            "`{}` is not a media URL: give an http(s) URL or a data: URI",
            shorten(url)
        ))),
    }
}

/// The start of a long text, for an error message.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(80) {
        Some((end, _)) => Cow::Owned(format!("{}...", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// A task's id, as `create_task` answered it (`A-Z a-z 0-9 _ -`, 1 to 64
/// characters). Made from `&str`, `String` or `&String`: `.task_id(&task.id)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// Checks `id` and wraps it.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidValue> {
        let id = id.into();
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(id))
        } else {
            Err(InvalidValue::new(format!(
                "`{}` is not a task id (1 to 64 of A-Z a-z 0-9 _ -)",
                shorten(&id)
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The string types: conversions from text, and back.
macro_rules! checked_string {
    ($name:ident) => {
        impl TryFrom<&str> for $name {
            type Error = InvalidValue;
            fn try_from(value: &str) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }
        impl TryFrom<&String> for $name {
            type Error = InvalidValue;
            fn try_from(value: &String) -> Result<Self, InvalidValue> {
                Self::new(value.as_str())
            }
        }
        impl From<&$name> for $name {
            fn from(value: &$name) -> Self {
                value.clone()
            }
        }
        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(value: &str) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_string!(MediaUrl);
checked_string!(TaskId);

/// An integer the contract bounds: from `MIN` to `MAX`, a multiple of `STEP`.
///
/// Made from any integer type, checked (`Int::<16, 2048>::new(640)?`,
/// `.width(640)` in a builder); it cannot hold a value out of its bounds.
///
/// ```
/// use runway_api::{Int, VideoDuration};
///
/// assert_eq!(VideoDuration::new(5).map(|d| d.get()), Ok(5));
/// assert!(VideoDuration::new(20).is_err());
/// assert!(Int::<16, 1280, 2>::new(641).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int<const MIN: i32, const MAX: i32, const STEP: i32 = 1>(i32);

impl<const MIN: i32, const MAX: i32, const STEP: i32> Int<MIN, MAX, STEP> {
    /// The smallest value.
    pub const MIN: i32 = MIN;
    /// The largest value.
    pub const MAX: i32 = MAX;

    /// `value` when it is within the bounds.
    pub fn new(value: impl TryInto<i64>) -> Result<Self, InvalidValue> {
        let value = value.try_into().ok();
        match value {
            Some(v)
                if (i64::from(MIN)..=i64::from(MAX)).contains(&v)
                    && (v - i64::from(MIN)) % i64::from(STEP.max(1)) == 0 =>
            {
                // Within MIN..=MAX, so within i32.
                Ok(Self(v as i32))
            }
            _ => Err(Self::out_of_range(value)),
        }
    }

    /// `value` when it is within the bounds, in a `const` context.
    pub const fn new_const(value: i32) -> Option<Self> {
        let step = if STEP > 1 { STEP } else { 1 };
        if value >= MIN && value <= MAX && (value - MIN) % step == 0 {
            Some(Self(value))
        } else {
            None
        }
    }

    /// The value.
    pub const fn get(self) -> i32 {
        self.0
    }

    fn out_of_range(value: Option<i64>) -> InvalidValue {
        let got = value.map_or_else(|| "a larger number".to_owned(), |v| v.to_string());
        let what = if STEP > 1 {
            format!("a multiple of {STEP} ")
        } else {
            String::new()
        };
        InvalidValue::new(format!("must be {what}from {MIN} to {MAX}, got {got}"))
    }
}

macro_rules! int_from {
    ($($from:ty),*) => {$(
        impl<const MIN: i32, const MAX: i32, const STEP: i32> TryFrom<$from> for Int<MIN, MAX, STEP> {
            type Error = InvalidValue;
            fn try_from(value: $from) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }
    )*};
}
int_from!(i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);

impl<const MIN: i32, const MAX: i32, const STEP: i32> TryFrom<std::num::NonZeroU32>
    for Int<MIN, MAX, STEP>
{
    type Error = InvalidValue;
    fn try_from(value: std::num::NonZeroU32) -> Result<Self, InvalidValue> {
        Self::new(value.get())
    }
}

impl<const MIN: i32, const MAX: i32, const STEP: i32> From<Int<MIN, MAX, STEP>> for i32 {
    fn from(value: Int<MIN, MAX, STEP>) -> Self {
        value.0
    }
}

impl<const MIN: i32, const MAX: i32, const STEP: i32> fmt::Display for Int<MIN, MAX, STEP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<const MIN: i32, const MAX: i32, const STEP: i32> FromStr for Int<MIN, MAX, STEP> {
    type Err = InvalidValue;
    fn from_str(text: &str) -> Result<Self, InvalidValue> {
        let value: i64 = text
            .trim()
            .parse()
            .map_err(|_| InvalidValue::new(format!("`{}` is not an integer", shorten(text))))?;
        Self::new(value)
    }
}

impl<const MIN: i32, const MAX: i32, const STEP: i32> Serialize for Int<MIN, MAX, STEP> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self.0)
    }
}

impl<'de, const MIN: i32, const MAX: i32, const STEP: i32> Deserialize<'de>
    for Int<MIN, MAX, STEP>
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(i64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The duration of a generated video in seconds, from 1 to 10.
pub type VideoDuration = Int<1, 10>;
/// Frames per second, from 1 to 60.
pub type Fps = Int<1, 60>;
/// The seed of a generation, from 0 to 2147483647: the same request and seed
/// give the same picture.
pub type Seed = Int<0, 2147483647>;

/// Numbers (not integers) the contract bounds, each its own type.
macro_rules! bounded_number {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            /// The smallest value.
            pub const MIN: f64 = $min;
            /// The largest value.
            pub const MAX: f64 = $max;

            /// `value` when it is within the bounds (and a number).
            pub fn new(value: f64) -> Result<Self, InvalidValue> {
                if (Self::MIN..=Self::MAX).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidValue::new(format!(
                        "must be from {} to {}, got {value}",
                        Self::MIN,
                        Self::MAX
                    )))
                }
            }

            /// The value.
            pub const fn get(self) -> f64 {
                self.0
            }
        }

        impl TryFrom<f64> for $name {
            type Error = InvalidValue;
            fn try_from(value: f64) -> Result<Self, InvalidValue> {
                Self::new(value)
            }
        }
        impl TryFrom<f32> for $name {
            type Error = InvalidValue;
            fn try_from(value: f32) -> Result<Self, InvalidValue> {
                Self::new(f64::from(value))
            }
        }
        impl TryFrom<i32> for $name {
            type Error = InvalidValue;
            fn try_from(value: i32) -> Result<Self, InvalidValue> {
                Self::new(f64::from(value))
            }
        }
        impl From<$name> for f64 {
            fn from(value: $name) -> Self {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(text: &str) -> Result<Self, InvalidValue> {
                let value: f64 = text.trim().parse().map_err(|_| {
                    InvalidValue::new(format!("`{}` is not a number", shorten(text)))
                })?;
                Self::new(value)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(f64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

bounded_number!(
    /// How many times as fast to play, from 0.25 to 4.
    SpeedFactor,
    0.25,
    4.0
);
bounded_number!(
    /// A change from -1 to 1, 0 leaving the property as it is (brightness,
    /// contrast, saturation).
    Adjustment,
    -1.0,
    1.0
);
bounded_number!(
    /// How far to go, from 0 (nothing) to 1 (all the way).
    Strength,
    0.0,
    1.0
);

impl Adjustment {
    /// No change.
    pub const ZERO: Self = Self(0.0);
}

#[cfg(feature = "schemars")]
mod json_schema {
    //! The JSON Schema of each type, as the contract writes it.

    use schemars::JsonSchema;
    use schemars::r#gen::SchemaGenerator;
    use schemars::schema::{
        InstanceType, NumberValidation, Schema, SchemaObject, StringValidation,
    };

    use super::*;

    fn number(kind: InstanceType, min: f64, max: f64, step: Option<f64>) -> Schema {
        SchemaObject {
            instance_type: Some(kind.into()),
            format: Some(
                if kind == InstanceType::Integer {
                    "int32"
                } else {
                    "double"
                }
                .into(),
            ),
            number: Some(Box::new(NumberValidation {
                minimum: Some(min),
                maximum: Some(max),
                multiple_of: step,
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }

    fn string(format: Option<&str>, min: u32, max: u32, pattern: Option<&str>) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            format: format.map(str::to_owned),
            string: Some(Box::new(StringValidation {
                min_length: Some(min),
                max_length: Some(max),
                pattern: pattern.map(str::to_owned),
            })),
            ..Default::default()
        }
        .into()
    }

    impl<const MIN: i32, const MAX: i32, const STEP: i32> JsonSchema for Int<MIN, MAX, STEP> {
        fn schema_name() -> String {
            format!("Int_{MIN}_{MAX}_{STEP}")
        }
        // Written where used, as the contract writes a field's bounds.
        fn is_referenceable() -> bool {
            false
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            let step = (STEP > 1).then_some(f64::from(STEP));
            number(InstanceType::Integer, f64::from(MIN), f64::from(MAX), step)
        }
    }

    macro_rules! number_schema {
        ($($name:ident),*) => {$(
            impl JsonSchema for $name {
                fn schema_name() -> String {
                    stringify!($name).to_owned()
                }
                fn is_referenceable() -> bool {
                    false
                }
                fn json_schema(_: &mut SchemaGenerator) -> Schema {
                    number(InstanceType::Number, Self::MIN, Self::MAX, None)
                }
            }
        )*};
    }
    number_schema!(SpeedFactor, Adjustment, Strength);

    impl JsonSchema for MediaUrl {
        fn schema_name() -> String {
            "MediaUrl".to_owned()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            string(Some("uri"), 1, 70_000_000, None)
        }
    }

    impl JsonSchema for TaskId {
        fn schema_name() -> String {
            "TaskId".to_owned()
        }
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            string(None, 1, 64, Some("^[A-Za-z0-9_-]{1,64}$"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls_are_checked_for_form() {
        for good in [
            "https://api.runway-ai.ai/images/img_1.jpg",
            "http://127.0.0.1:8080/videos/vid_1.mp4",
            "HTTPS://example.com/a.jpg",
            "data:image/png;base64,iVBORw0KGgo=",
            "data:,hello",
        ] {
            assert!(MediaUrl::try_from(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "not a url",
            "ftp://example.com/a.jpg",
            "https://",
            "data:abc",
            "/images/a.jpg",
        ] {
            assert!(MediaUrl::try_from(bad).is_err(), "{bad:?}");
        }
        let answer = String::from("https://example.com/a.jpg");
        assert_eq!(
            MediaUrl::try_from(&answer).expect("a URL"),
            "https://example.com/a.jpg"
        );
        assert!(serde_json::from_str::<MediaUrl>("\"nope\"").is_err());
    }

    #[test]
    fn task_ids_follow_the_pattern() {
        assert!(TaskId::try_from(&"task_0193a5c2e4f1_5f2b".to_owned()).is_ok());
        assert!(TaskId::try_from("").is_err());
        assert!(TaskId::try_from("a/b").is_err());
        assert!(TaskId::try_from("x".repeat(65)).is_err());
    }

    #[test]
    fn integers_keep_their_bounds_and_step() {
        assert_eq!(VideoDuration::try_from(10u8).map(Int::get), Ok(10));
        let err = VideoDuration::new(20).expect_err("20 s");
        assert_eq!(err.to_string(), "must be from 1 to 10, got 20");
        assert!(VideoDuration::try_from(0usize).is_err());
        assert!(VideoDuration::try_from(u64::MAX).is_err());
        assert_eq!(Int::<16, 1280, 2>::new(640).map(Int::get), Ok(640));
        let odd = Int::<16, 1280, 2>::new(641).expect_err("odd");
        assert_eq!(
            odd.to_string(),
            "must be a multiple of 2 from 16 to 1280, got 641"
        );
        assert_eq!(Int::<-180, 180>::new(-180).map(Int::get), Ok(-180));
        assert!(serde_json::from_str::<VideoDuration>("11").is_err());
        assert_eq!(
            serde_json::to_string(&Fps::new(24).expect("24")).expect("json"),
            "24"
        );
        assert_eq!("7".parse::<VideoDuration>().map(Int::get), Ok(7));
    }

    #[test]
    fn numbers_keep_their_bounds() {
        assert_eq!(SpeedFactor::try_from(2).map(SpeedFactor::get), Ok(2.0));
        assert!(SpeedFactor::new(0.1).is_err());
        assert!(SpeedFactor::new(f64::NAN).is_err());
        assert!(Adjustment::new(-1.0).is_ok());
        assert!(Strength::new(1.5).is_err());
        assert!(serde_json::from_str::<Strength>("2").is_err());
    }
}

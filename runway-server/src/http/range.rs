//! HTTP `Range` on downloads: one byte range is served (206); anything else is
//! ignored and the whole file sent, as RFC 9110 allows.

/// A parsed single byte range, or why not.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No range, or one to ignore: send everything.
    Whole,
    /// Send `start..end` (end exclusive).
    Part(u64, u64),
    /// The range lies outside the file.
    Unsatisfiable,
}

/// Parses a `Range` header against a file of `size` bytes. A header that is not one
/// well-formed byte range (malformed, another unit, several ranges) is ignored and
/// the whole file is sent, as RFC 9110 allows; a range starting at or beyond the end
/// is unsatisfiable.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return RangeRequest::Whole,
        (true, false) => match number(last) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(suffix) => (size.saturating_sub(suffix), size),
            None => return RangeRequest::Whole,
        },
        (false, true) => match number(first) {
            Some(start) => (start, size),
            None => return RangeRequest::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a <= b => (a, b.saturating_add(1).min(size)),
            _ => return RangeRequest::Whole,
        },
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range(None, 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part(5, 10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part(7, 10));
        assert_eq!(parse_range(Some("bytes=2-100"), 10), Part(2, 10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        for ignored in [
            "bytes=0-1,3-4",
            "bytes=",
            "bytes=a-b",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
            "SK3",
            ",Z&",
        ] {
            assert_eq!(parse_range(Some(ignored), 10), Whole, "{ignored}");
        }
    }

    proptest::proptest! {
        /// Any header, any size: an answer, never a panic, and a part that lies
        /// inside the file.
        #[test]
        fn any_header_parses_to_a_range_inside_the_file(
            header in proptest::prelude::any::<String>(),
            spec in "bytes=[0-9 ,-]{0,40}",
            size in proptest::prelude::any::<u64>(),
        ) {
            for header in [header.as_str(), spec.as_str()] {
                if let RangeRequest::Part(start, end) = parse_range(Some(header), size) {
                    proptest::prop_assert!(start < end && end <= size, "{header}: {start}..{end} of {size}");
                }
            }
        }
    }
}

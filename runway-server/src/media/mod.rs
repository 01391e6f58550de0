//! Media work, with no knowledge of requests, storage or HTTP: images in
//! process (`imaging`), the ffmpeg command lines (`video`), the ffmpeg and
//! ffprobe runner (`engine`), and reading a written file's headers
//! (`describe`). Depends on `domain` only.

pub(crate) mod describe;
pub(crate) mod engine;
pub(crate) mod imaging;
pub(crate) mod palette;
pub(crate) mod video;

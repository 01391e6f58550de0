//! `runway-server`: a self-hosted reference server of the Runway AI media API
//! (`openapi/runway.yaml`) that really does the work.
//!
//! - Images are decoded, edited and encoded in process (`image`,
//!   `fast_image_resize`, `imageproc` with an embedded font).
//! - Video and audio go through `ffmpeg`/`ffprobe` child processes, with a timeout,
//!   `kill_on_drop` and at most `--max-jobs` media jobs at once.
//! - Text-to-image and text-to-video are drawn procedurally and deterministically
//!   from the prompt (no model weights); everything else is real processing.
//! - Media live in an `object_store`: the local filesystem under `--data-dir`, or
//!   an S3-compatible bucket (`--storage s3://...`) shared by several replicas.
//!
//! Start it in-process with [`start`] (tests) or run the `runway-server` binary.

pub mod admin;
pub mod config;

mod domain;
mod http;
mod media;
mod net;
mod services;
mod startup;
mod storage;

pub use config::ServerConfig;
pub use services::App;
pub use startup::{Prepared, RunningServer, StartError, TASK_STOP_WAIT, prepare, router, start};

//! Stored media for download: found by their file name, redirected to the
//! bucket when the server is set to, or read (in one call when small, as a
//! stream when large, so memory stays flat).

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;

use super::App;
use crate::domain::media::{MediaKind, MediaRecord, parse_file_name};
use crate::domain::{Error, ErrorCode, Result};

/// Downloads up to this size are read in one call rather than streamed.
const SMALL_DOWNLOAD_BYTES: u64 = 1024 * 1024;

/// The bytes of a download.
pub(crate) enum MediaBytes {
    /// Read whole (small).
    Read(Bytes),
    /// Streamed from the store (large).
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
}

impl App {
    /// The record of the stored media of `kind` named `file` (`{id}.{ext}`), or 404.
    pub(crate) async fn media_to_download(
        &self,
        kind: MediaKind,
        file: &str,
    ) -> Result<MediaRecord> {
        let not_found = || Error::new(ErrorCode::NotFound, "no media at this URL");
        let id = parse_file_name(kind, file).ok_or_else(not_found)?;
        self.stored_media(kind, id).await?.ok_or_else(not_found)
    }

    /// With `--download-redirect-secs` and a bucket: a presigned URL of the media,
    /// valid that long.
    pub(crate) async fn download_redirect(&self, record: &MediaRecord) -> Result<Option<String>> {
        let Some(secs) = self.config.download_redirect_secs else {
            return Ok(None);
        };
        let url = self
            .store
            .presigned_url(record, Duration::from_secs(secs))
            .await?;
        Ok(url.map(String::from))
    }

    /// The bytes `range` (or all) of a stored media.
    pub(crate) async fn media_bytes(
        &self,
        record: &MediaRecord,
        range: Option<Range<u64>>,
    ) -> Result<MediaBytes> {
        let size = record.size_bytes;
        let length = range.as_ref().map_or(size, |r| r.end - r.start);
        if length <= SMALL_DOWNLOAD_BYTES {
            let span = range.unwrap_or(0..size);
            return Ok(MediaBytes::Read(self.store.read_range(record, span).await?));
        }
        let stream = self
            .store
            .stream(record, range)
            .await?
            .map_err(std::io::Error::other);
        Ok(MediaBytes::Stream(Box::pin(stream)))
    }
}

//! Downloading media by URL: streaming (memory does not grow with the file) and, for
//! files, atomic (a temporary file renamed into place; a failed download leaves
//! nothing behind).

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use progenitor_client::ClientInfo;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{Client, RunwayError};

/// The largest error body a download reads into memory.
const MAX_ERROR_BODY: usize = 64 * 1024;

impl Client {
    /// Streams the media at `media_url` into `writer` and returns the number of bytes
    /// written.
    ///
    /// The API key is sent only when `media_url` is on this client's base URL. The
    /// request is retried like every operation until the body starts to arrive.
    pub async fn download_to_writer<W>(
        &self,
        media_url: &str,
        writer: &mut W,
    ) -> Result<u64, RunwayError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        self.download_to_writer_with_progress(media_url, writer, |_, _| {})
            .await
    }

    /// [`Client::download_to_writer`], calling `on_progress(written, total)` as the
    /// bytes arrive (`total` is the size the server announced, if it did): for a
    /// progress bar.
    pub async fn download_to_writer_with_progress<W>(
        &self,
        media_url: &str,
        writer: &mut W,
        mut on_progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, RunwayError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let url = reqwest::Url::parse(media_url).map_err(|e| RunwayError::InvalidRequest {
            param: None,
            message: format!("media URL `{media_url}`: {e}"),
        })?;
        let same_origin =
            reqwest::Url::parse(self.baseurl()).is_ok_and(|base| base.origin() == url.origin());
        let request = self.client().get(url).build()?;
        let response = crate::retry::execute(
            self.client(),
            self.inner(),
            request,
            "download",
            same_origin,
        )
        .await?;
        let status = response.status();
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = read_capped(response).await?;
            return Err(RunwayError::from_error_body(status, &headers, body));
        }
        let mut written = 0u64;
        let total = response.content_length();
        on_progress(0, total);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|source| RunwayError::Io {
                    path: PathBuf::from("<writer>"),
                    source,
                })?;
            written += chunk.len() as u64;
            on_progress(written, total);
        }
        writer.flush().await.map_err(|source| RunwayError::Io {
            path: PathBuf::from("<writer>"),
            source,
        })?;
        Ok(written)
    }

    /// Downloads the media at `media_url` to `path`, atomically: the bytes go to a
    /// temporary file beside `path`, which is renamed over `path` only once the whole
    /// body has arrived and been synced. The file gets the permissions of any new
    /// file (0666 less the umask). Returns the number of bytes written.
    pub async fn download_to_file(
        &self,
        media_url: &str,
        path: impl AsRef<Path>,
    ) -> Result<u64, RunwayError> {
        self.download_to_file_with_progress(media_url, path, |_, _| {})
            .await
    }

    /// [`Client::download_to_file`], calling `on_progress(written, total)` as the
    /// bytes arrive (`total` is the size the server announced, if it did).
    pub async fn download_to_file_with_progress(
        &self,
        media_url: &str,
        path: impl AsRef<Path>,
        on_progress: impl FnMut(u64, Option<u64>),
    ) -> Result<u64, RunwayError> {
        let path = path.as_ref();
        let io_err = |source| RunwayError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".runway-download-");
        // A temporary file is private (0600); the download is an ordinary new file,
        // whose permissions follow the umask (0644 under the usual 022).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder.tempfile_in(&dir).map_err(io_err)?;
        let (file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        // On any error below, `temp_path` is dropped and the temporary file removed.
        let written = self
            .download_to_writer_with_progress(media_url, &mut file, on_progress)
            .await?;
        file.sync_all().await.map_err(io_err)?;
        drop(file);
        temp_path.persist(path).map_err(|e| io_err(e.error))?;
        Ok(written)
    }
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of a response body.
async fn read_capped(response: reqwest::Response) -> Result<bytes::Bytes, RunwayError> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let room = MAX_ERROR_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Ok(body.into())
}

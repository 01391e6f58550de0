//! Uploads streamed from a file: memory does not grow with the file's size.

use std::path::Path;

use progenitor_client::ResponseValue;

use crate::{Client, RunwayError, types};

impl Client {
    /// Uploads the image or video at `path`, read from disk as it is sent (a video
    /// of gigabytes takes no more memory than a photo). A streamed body cannot be
    /// sent twice, so this request is not retried.
    ///
    /// ```no_run
    /// # async fn run(client: runway_api::Client) -> Result<(), runway_api::RunwayError> {
    /// let uploaded = client.upload_file("holiday.mp4").await?;
    /// println!("{} ({} bytes)", uploaded.media_url, uploaded.size_bytes);
    /// # Ok(()) }
    /// ```
    pub async fn upload_file(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<ResponseValue<types::UploadMediaResponse>, RunwayError> {
        let path = path.as_ref();
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| RunwayError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(self
            .upload_media()
            .body(reqwest::Body::from(file))
            .send()
            .await?)
    }
}

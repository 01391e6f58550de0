//! Uploads streamed from a file: memory does not grow with the file's size.

use std::path::{Path, PathBuf};

use progenitor_client::{ClientInfo, ResponseValue};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::{Client, Config, RunwayError, types};

/// The file at `path` as a streamed body, with its length.
fn open_body(path: &Path) -> std::io::Result<(reqwest::Body, u64)> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    Ok((reqwest::Body::from(tokio::fs::File::from_std(file)), len))
}

impl Client {
    /// Uploads the image or video at `path`, read from disk as it is sent (a video
    /// of gigabytes takes no more memory than a photo). The request declares the
    /// file's length, so a server refuses a file over its limit before any of it
    /// is sent; a retry opens the file again.
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
        let path: PathBuf = path.as_ref().to_owned();
        let (body, len) = open_body(&path).map_err(|source| RunwayError::Io {
            path: path.clone(),
            source,
        })?;
        let request = self
            .client()
            .post(format!("{}/v1/upload-media", self.baseurl()))
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, len)
            .header(
                HeaderName::from_static("api-version"),
                HeaderValue::from_static(<Client as ClientInfo<Config>>::api_version()),
            )
            .body(body)
            .build()?;
        // Sent again only as it was: a file whose length changed would not match
        // the length declared.
        let replay = move |sent: &reqwest::Request| {
            let (body, len) = open_body(&path).ok()?;
            if sent.headers().get(CONTENT_LENGTH) != Some(&HeaderValue::from(len)) {
                return None;
            }
            let mut again = reqwest::Request::new(sent.method().clone(), sent.url().clone());
            *again.headers_mut() = sent.headers().clone();
            *again.timeout_mut() = sent.timeout().copied();
            *again.body_mut() = Some(body);
            Some(again)
        };
        let response = crate::retry::execute_with(
            self.client(),
            self.inner(),
            request,
            "upload_media",
            true,
            replay,
        )
        .await?;
        type Failure = progenitor_client::Error<types::ErrorResponse>;
        match response.status().as_u16() {
            201 => Ok(ResponseValue::from_response::<types::ErrorResponse>(response).await?),
            400..=599 => {
                Err(Failure::ErrorResponse(ResponseValue::from_response(response).await?).into())
            }
            _ => Err(Failure::UnexpectedResponse(response).into()),
        }
    }
}

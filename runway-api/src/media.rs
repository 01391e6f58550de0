//! Listing the caller's media: a `Stream` that follows the server's cursor.

use futures_util::Stream;

use crate::{Client, RunwayError, types};

/// Media fetched per page while streaming.
const PAGE: std::num::NonZeroU32 = std::num::NonZeroU32::new(100).expect("not zero");

impl Client {
    /// Every media stored with this client's key, newest first, optionally only of
    /// `kind`, as a stream that fetches a page of 100 at a time as it is read (each
    /// page retried like any operation). For one page, or for time filters, call
    /// [`Client::list_media`] directly.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// # async fn run(client: runway_api::Client) -> Result<(), runway_api::RunwayError> {
    /// let videos: Vec<_> = client
    ///     .media_stream(Some(runway_api::types::StoredMediaKind::Video))
    ///     .try_collect()
    ///     .await?;
    /// for video in &videos {
    ///     println!("{} {} bytes", video.url, video.size_bytes);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn media_stream(
        &self,
        kind: Option<types::StoredMediaKind>,
    ) -> impl Stream<Item = Result<types::MediaItem, RunwayError>> + '_ {
        /// Where the stream stands: items left of the last page, and its cursor.
        struct State {
            items: std::vec::IntoIter<types::MediaItem>,
            next: Option<String>,
            started: bool,
        }
        let state = State {
            items: Vec::new().into_iter(),
            next: None,
            started: false,
        };
        futures_util::stream::try_unfold(state, move |mut state| async move {
            loop {
                if let Some(item) = state.items.next() {
                    return Ok(Some((item, state)));
                }
                if state.started && state.next.is_none() {
                    return Ok(None);
                }
                let mut request = self.list_media().limit(PAGE);
                if let Some(kind) = kind {
                    request = request.kind(kind);
                }
                if let Some(cursor) = state.next.take() {
                    request = request.cursor(cursor);
                }
                let page = request.send().await?.into_inner();
                state.started = true;
                state.next = page.next_cursor;
                state.items = page.data.into_iter();
            }
        })
    }
}

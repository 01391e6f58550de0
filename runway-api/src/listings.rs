//! The caller's media and tasks as `Stream`s that follow the server's cursor.

use std::future::Future;

use chrono::{DateTime, Utc};
use futures_util::Stream;

use crate::{Client, Int, RunwayError, types};

/// Items fetched per page while streaming (the most a page holds).
const PAGE: Int<1, 100> = match Int::<1, 100>::new_const(100) {
    Some(page) => page,
    None => panic!("100 is within 1..=100"),
};

/// Which media [`Client::media_stream`] gives: every media unless narrowed.
/// `None`, `Some(kind)` and a kind convert into it.
///
/// ```
/// use runway_api::{MediaFilter, types::StoredMediaKind};
///
/// let since = "2026-01-01T00:00:00Z".parse().expect("a time");
/// let recent_videos = MediaFilter::default()
///     .kind(StoredMediaKind::Video)
///     .created_after(since);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MediaFilter {
    /// Only media of this kind.
    pub kind: Option<types::StoredMediaKind>,
    /// Only media stored at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only media stored before this time.
    pub created_before: Option<DateTime<Utc>>,
}

impl MediaFilter {
    /// Only media of `kind`.
    pub fn kind(mut self, kind: types::StoredMediaKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only media stored at or after `time`.
    pub fn created_after(mut self, time: DateTime<Utc>) -> Self {
        self.created_after = Some(time);
        self
    }

    /// Only media stored before `time`.
    pub fn created_before(mut self, time: DateTime<Utc>) -> Self {
        self.created_before = Some(time);
        self
    }
}

impl From<Option<types::StoredMediaKind>> for MediaFilter {
    fn from(kind: Option<types::StoredMediaKind>) -> Self {
        MediaFilter {
            kind,
            ..Default::default()
        }
    }
}

impl From<types::StoredMediaKind> for MediaFilter {
    fn from(kind: types::StoredMediaKind) -> Self {
        Some(kind).into()
    }
}

/// The items of every page, fetched one page at a time as the stream is read:
/// `fetch(cursor)` answers a page and the next page's cursor.
fn pages<'a, T, F, Fut>(fetch: F) -> impl Stream<Item = Result<T, RunwayError>> + 'a
where
    T: 'a,
    F: FnMut(Option<String>) -> Fut + 'a,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), RunwayError>> + 'a,
{
    /// Where the stream stands: items left of the last page, and its cursor.
    struct State<T, F> {
        fetch: F,
        items: std::vec::IntoIter<T>,
        next: Option<String>,
        started: bool,
    }
    let state = State {
        fetch,
        items: Vec::new().into_iter(),
        next: None,
        started: false,
    };
    futures_util::stream::try_unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.items.next() {
                return Ok(Some((item, state)));
            }
            if state.started && state.next.is_none() {
                return Ok(None);
            }
            let (items, next) = (state.fetch)(state.next.take()).await?;
            state.started = true;
            state.next = next;
            state.items = items.into_iter();
        }
    })
}

/// What [`Client::task_stream`] lists: every task, or those created within a
/// time.
///
/// ```
/// # use runway_api::TaskFilter;
/// let since = chrono::Utc::now() - chrono::Duration::hours(1);
/// let filter = TaskFilter::default().created_after(since);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TaskFilter {
    /// Only tasks created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only tasks created before this time.
    pub created_before: Option<DateTime<Utc>>,
}

impl TaskFilter {
    /// Only tasks created at or after `time`.
    pub fn created_after(mut self, time: DateTime<Utc>) -> Self {
        self.created_after = Some(time);
        self
    }

    /// Only tasks created before `time`.
    pub fn created_before(mut self, time: DateTime<Utc>) -> Self {
        self.created_before = Some(time);
        self
    }
}

impl From<Option<TaskFilter>> for TaskFilter {
    fn from(filter: Option<TaskFilter>) -> Self {
        filter.unwrap_or_default()
    }
}

impl Client {
    /// Every media stored with this client's key, newest first, narrowed by
    /// `filter` (`None`, a kind, or a [`MediaFilter`]), as a stream that fetches a
    /// page of 100 at a time as it is read (each page retried like any operation).
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// # async fn run(client: runway_api::Client) -> Result<(), runway_api::RunwayError> {
    /// let videos: Vec<_> = client
    ///     .media_stream(runway_api::types::StoredMediaKind::Video)
    ///     .try_collect()
    ///     .await?;
    /// for video in &videos {
    ///     println!("{} {} bytes", video.url, video.size_bytes);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn media_stream(
        &self,
        filter: impl Into<MediaFilter>,
    ) -> impl Stream<Item = Result<types::MediaItem, RunwayError>> + '_ {
        let filter = filter.into();
        pages(move |cursor| {
            let mut request = self.list_media().limit(PAGE);
            if let Some(kind) = filter.kind {
                request = request.kind(kind);
            }
            if let Some(time) = filter.created_after {
                request = request.created_after(time);
            }
            if let Some(time) = filter.created_before {
                request = request.created_before(time);
            }
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            async move {
                let page = request.send().await?.into_inner();
                Ok((page.data, page.next_cursor))
            }
        })
    }

    /// Every task made with this client's key, newest first (finished ones are
    /// kept for a day), narrowed by `filter` (`None`, or a [`TaskFilter`] of
    /// creation times), as a stream that fetches a page of 100 at a time.
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
    /// use runway_api::{TaskFilter, types::TaskStatus};
    /// # async fn run(client: runway_api::Client) -> Result<(), runway_api::RunwayError> {
    /// let last_hour = TaskFilter::default().created_after(chrono::Utc::now() - chrono::Duration::hours(1));
    /// let running = client
    ///     .task_stream(last_hour)
    ///     .try_filter(|task| std::future::ready(task.status == TaskStatus::Running))
    ///     .try_collect::<Vec<_>>()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn task_stream(
        &self,
        filter: impl Into<TaskFilter>,
    ) -> impl Stream<Item = Result<types::Task, RunwayError>> + '_ {
        let filter = filter.into();
        pages(move |cursor| {
            let mut request = self.list_tasks().limit(PAGE);
            if let Some(time) = filter.created_after {
                request = request.created_after(time);
            }
            if let Some(time) = filter.created_before {
                request = request.created_before(time);
            }
            if let Some(cursor) = cursor {
                request = request.cursor(cursor);
            }
            async move {
                let page = request.send().await?.into_inner();
                Ok((page.data, page.next_cursor))
            }
        })
    }
}

//! Tasks: create, read, follow, list, cancel or delete.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::Stream;
use runway_api::types;
use serde::Deserialize;

use super::query_error;
use crate::domain::Owner;
use crate::domain::Result;
use crate::domain::op::MediaOp;
use crate::domain::task::TaskRecord;
use crate::http::json::ApiJson;
use crate::http::wire::TaskEnvelope;
use crate::services::App;
use crate::services::tasks::TaskFilter;

pub(crate) async fn create_task(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(envelope): ApiJson<TaskEnvelope>,
) -> Result<Response> {
    let req = types::CreateTaskRequest::try_from(envelope)?;
    let operation = crate::http::wire::operation_of(&req);
    let op = MediaOp::try_from(req)?;
    let task = types::Task::from(state.create_task(&owner, operation, op).await?);
    let mut response = (StatusCode::ACCEPTED, Json(&task)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/tasks/{}", task.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub(crate) async fn get_task(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    Path(task_id): Path<String>,
) -> Result<Json<types::Task>> {
    Ok(Json(state.get_task(&owner, &task_id).await?.into()))
}

/// The id of the event that shows `task`'s state: its status and progress.
fn event_id(task: &TaskRecord) -> String {
    format!("{}.{}", task.status.as_str(), task.progress)
}

/// The task's states as Server-Sent Events (`GET /v1/tasks/{id}/events`).
pub(crate) async fn task_events(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    event_stream(&state, &owner, &task_id, &headers).await
}

/// `owner`'s task as Server-Sent Events, from the one watcher of the task on
/// this replica, after the state `Last-Event-ID` names; ends after its final
/// state, or when the server starts to stop.
pub(crate) async fn event_stream(
    state: &App,
    owner: &Owner,
    task_id: &str,
    headers: &HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    let last_sent = match headers.get("last-event-id") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(id) if id.len() <= 64 => Some(id.to_owned()),
            _ => {
                return Err(crate::domain::Error::bad_request(
                    "Last-Event-ID is the id of an event: at most 64 visible characters",
                )
                .with_param("Last-Event-ID"));
            }
        },
    };
    let feed = state.follow_task(owner, task_id).await?;
    let draining = state.draining.clone();
    let events = futures_util::stream::unfold(
        (feed, last_sent, false),
        move |(mut feed, last_sent, ended)| {
            let draining = draining.clone();
            async move {
                if ended {
                    return None;
                }
                let mut watcher_gone = false;
                loop {
                    let task = feed.borrow_and_update().clone();
                    let id = event_id(&task);
                    if last_sent.as_deref() != Some(id.as_str()) {
                        let event = Event::default()
                            .id(&id)
                            .event("task")
                            .json_data(types::Task::from(task.clone()))
                            .ok()?;
                        let ended = task.is_finished() || watcher_gone;
                        return Some((Ok(event), (feed, Some(id), ended)));
                    }
                    if task.is_finished() || watcher_gone {
                        return None;
                    }
                    tokio::select! {
                        changed = feed.changed() => watcher_gone = changed.is_err(),
                        () = draining.cancelled() => return None,
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

pub(crate) async fn delete_task(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    Path(task_id): Path<String>,
) -> Result<Json<types::Task>> {
    Ok(Json(state.delete_task(&owner, &task_id).await?.into()))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    created_after: Option<chrono::DateTime<chrono::Utc>>,
    created_before: Option<chrono::DateTime<chrono::Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(crate) async fn list_tasks(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<types::TaskList>> {
    let Query(query) = query.map_err(query_error)?;
    let limit = super::page_limit(query.limit.map(i64::from))?;
    let filter = TaskFilter {
        created_after: query.created_after,
        created_before: query.created_before,
    };
    let page = state
        .list_tasks(&owner, &filter, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(types::TaskList {
        data: page.tasks.into_iter().map(types::Task::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

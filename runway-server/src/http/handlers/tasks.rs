//! Tasks: create, read, list, cancel or delete.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use runway_api::types;
use serde::Deserialize;

use super::query_error;
use crate::domain::Owner;
use crate::domain::Result;
use crate::domain::op::MediaOp;
use crate::http::json::ApiJson;
use crate::http::wire::TaskEnvelope;
use crate::services::App;

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

pub(crate) async fn delete_task(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    Path(task_id): Path<String>,
) -> Result<Json<types::Task>> {
    Ok(Json(state.delete_task(&owner, &task_id).await?.into()))
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
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
    let page = state
        .list_tasks(&owner, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(types::TaskList {
        data: page.tasks.into_iter().map(types::Task::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

//! Asynchronous tasks: GetTask, the progress of a move, copy, delete or
//! restore that answered `async: true`.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{GetTaskResponse, StorageErrors, UnionIdQuery};

/// GetTask, at the path and method its description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default().routes(utoipa_axum::routes!(get_task))
}

/// GetTask: a task of the caller's app.
#[utoipa::path(
    get,
    path = "/v1.0/storage/tasks/{taskId}",
    operation_id = "GetTask",
    tag = "tasks",
    params(
        ("taskId" = String, Path, description = "The `taskId` of an asynchronous answer"),
        UnionIdQuery,
    ),
    responses(
        (status = 200, description = "The task", body = GetTaskResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_task(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::TaskRead>,
    Path(task_id): Path<String>,
) -> Result<Json<GetTaskResponse>, ApiError> {
    let task = state.drive.get_task(&op, &task_id).await?;
    Ok(Json(GetTaskResponse { task: task.into() }))
}

//! `/api/v1/namespaces…`: namespaces, their accepted client CA bundle and their certificate
//! filters.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::{ApiError, ApiJson, ApiQuery};
use crate::control::{CaRemoval, Caller, WriteOptions};
use crate::wire::{
    CaBody, CaList, CreateNamespace, FilterList, FiltersBody, NamespaceList, NamespaceView,
    UpdateNamespace, WriteQuery,
};
use crate::AppState;

type Answer<T> = Result<Json<T>, ApiError>;

fn view(state: &AppState, ns: &gatehouse_store::Namespace) -> Json<NamespaceView> {
    Json(NamespaceView::new(ns, state.control.now()))
}

pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Answer<NamespaceList> {
    let now = state.control.now();
    let namespaces = state.control.list_namespaces(&caller).await?;
    Ok(Json(NamespaceList {
        namespaces: namespaces
            .iter()
            .map(|n| NamespaceView::new(n, now))
            .collect(),
    }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateNamespace>,
) -> Result<(StatusCode, Json<NamespaceView>), ApiError> {
    let written = state
        .control
        .create_namespace(&caller, &body.name, body.spec.into(), body.request_id)
        .await?;
    let status = if written.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, view(&state, &written.value)))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer<NamespaceView> {
    let ns = state.control.namespace(&caller, &name).await?;
    Ok(view(&state, &ns))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpdateNamespace>,
) -> Answer<NamespaceView> {
    let opts = WriteOptions {
        resource_version: body.resource_version,
        request_id: body.request_id,
        dry_run: body.dry_run,
    };
    let ns = state
        .control
        .update_namespace(&caller, &name, body.spec.into(), opts)
        .await?;
    Ok(view(&state, &ns))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<WriteQuery>,
) -> Result<StatusCode, ApiError> {
    state
        .control
        .delete_namespace(&caller, &name, q.into())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- accepted client CAs ----------------------------------------------------------------------

pub(crate) async fn list_cas(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer<CaList> {
    let ns = get(State(state), caller, Path(name)).await?.0;
    Ok(Json(CaList {
        accepted_client_cas: ns.accepted_client_cas,
        resource_version: ns.resource_version,
    }))
}

pub(crate) async fn add_ca(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CaBody>,
) -> Answer<NamespaceView> {
    let ns = state
        .control
        .add_cas(
            &caller,
            &name,
            body.ca_certificate.as_deref(),
            body.options(),
        )
        .await?;
    Ok(view(&state, &ns))
}

pub(crate) async fn set_cas(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CaBody>,
) -> Answer<NamespaceView> {
    let opts = body.options();
    let ns = state
        .control
        .set_cas(&caller, &name, body.ca_certificate, opts)
        .await?;
    Ok(view(&state, &ns))
}

pub(crate) async fn remove_ca(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CaBody>,
) -> Answer<NamespaceView> {
    let opts = body.options();
    let which = CaRemoval {
        pem: body.ca_certificate,
        fingerprint: body.fingerprint,
    };
    let ns = state
        .control
        .remove_cas(&caller, &name, which, opts)
        .await?;
    Ok(view(&state, &ns))
}

// --- certificate filters ----------------------------------------------------------------------

pub(crate) async fn get_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer<FilterList> {
    let ns = get(State(state), caller, Path(name)).await?.0;
    Ok(Json(FilterList {
        filters: ns.spec.mtls_auth.certificate_filters,
        resource_version: ns.resource_version,
    }))
}

/// Replaces the filters (tcld's `import`).
pub(crate) async fn import_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<FiltersBody>,
) -> Answer<NamespaceView> {
    let opts = body.options();
    let ns = state
        .control
        .import_filters(&caller, &name, body.filters, opts)
        .await?;
    Ok(view(&state, &ns))
}

/// Appends filters (tcld's `add`).
pub(crate) async fn add_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<FiltersBody>,
) -> Answer<NamespaceView> {
    let opts = body.options();
    let ns = state
        .control
        .add_filters(&caller, &name, body.filters, opts)
        .await?;
    Ok(view(&state, &ns))
}

/// Removes every filter (tcld's `clear`).
pub(crate) async fn clear_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<WriteQuery>,
) -> Answer<NamespaceView> {
    let ns = state
        .control
        .clear_filters(&caller, &name, q.into())
        .await?;
    Ok(view(&state, &ns))
}

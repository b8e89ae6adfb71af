//! `/api/v1/namespaces…`: namespaces, their accepted client CA bundle and their certificate
//! filters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use gatehouse_store::Namespace;

use super::{with_path_name, Answer, ApiError, ApiJson, ApiQuery, Call, WithStatus};
use crate::control::{CaRemoval, SpecEdit, WriteOptions};
use crate::wire::{
    CaBody, CaList, CreateNamespace, FilterList, FiltersBody, NamespaceList, NamespaceView,
    UpdateNamespace, WriteQuery,
};
use crate::AppState;

type View = Answer<NamespaceView>;

/// A request about the namespace its path names, by an authenticated caller (extracted in
/// that order).
#[derive(Debug)]
pub(crate) struct Named {
    call: Call,
    name: String,
}

impl FromRequestParts<AppState> for Named {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (call, name): (Call, String) = with_path_name(parts, state).await?;
        Ok(Self { call, name })
    }
}

impl Named {
    fn view(&self, ns: &Namespace) -> Json<NamespaceView> {
        Json(NamespaceView::new(ns, self.call.control().now()))
    }

    /// Makes the write and answers with the namespace as it left it.
    async fn write(&self, opts: WriteOptions, edit: SpecEdit) -> View {
        let control = self.call.control();
        let ns = control
            .edit_namespace(&self.call.caller, &self.name, edit, opts)
            .await?;
        Ok(self.view(&ns))
    }
}

pub(crate) async fn list(c: Call) -> Answer<NamespaceList> {
    let now = c.control().now();
    let namespaces = c.control().list_namespaces(&c.caller).await?;
    Ok(Json(NamespaceList {
        namespaces: namespaces
            .iter()
            .map(|n| NamespaceView::new(n, now))
            .collect(),
    }))
}

pub(crate) async fn create(
    c: Call,
    ApiJson(body): ApiJson<CreateNamespace>,
) -> WithStatus<NamespaceView> {
    let written = c
        .control()
        .create_namespace(&c.caller, &body.name, body.spec.into(), body.request_id)
        .await?;
    let status = if written.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let view = NamespaceView::new(&written.value, c.control().now());
    Ok((status, Json(view)))
}

pub(crate) async fn get(t: Named) -> View {
    let ns = t.call.control().namespace(&t.call.caller, &t.name).await?;
    Ok(t.view(&ns))
}

pub(crate) async fn update(t: Named, ApiJson(body): ApiJson<UpdateNamespace>) -> View {
    t.write(body.options(), SpecEdit::Replace(body.spec.into()))
        .await
}

pub(crate) async fn delete(
    t: Named,
    ApiQuery(q): ApiQuery<WriteQuery>,
) -> Result<StatusCode, ApiError> {
    let (c, who) = (t.call.control(), &t.call.caller);
    c.delete_namespace(who, &t.name, q.into()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- accepted client CAs ----------------------------------------------------------------------

pub(crate) async fn list_cas(t: Named) -> Answer<CaList> {
    let ns = get(t).await?.0;
    Ok(Json(CaList {
        accepted_client_cas: ns.accepted_client_cas,
        resource_version: ns.resource_version,
    }))
}

pub(crate) async fn add_ca(t: Named, ApiJson(body): ApiJson<CaBody>) -> View {
    t.write(body.options(), SpecEdit::AddCas(body.ca_certificate))
        .await
}

pub(crate) async fn remove_ca(t: Named, ApiJson(body): ApiJson<CaBody>) -> View {
    let opts = body.options();
    let which = CaRemoval {
        pem: body.ca_certificate,
        fingerprint: body.fingerprint,
    };
    t.write(opts, SpecEdit::RemoveCas(which)).await
}

pub(crate) async fn set_cas(t: Named, ApiJson(body): ApiJson<CaBody>) -> View {
    t.write(body.options(), SpecEdit::SetCas(body.ca_certificate))
        .await
}

// --- certificate filters ----------------------------------------------------------------------

pub(crate) async fn get_filters(t: Named) -> Answer<FilterList> {
    let ns = get(t).await?.0;
    Ok(Json(FilterList {
        filters: ns.spec.mtls_auth.certificate_filters,
        resource_version: ns.resource_version,
    }))
}

/// Replaces the filters (tcld's `import`).
pub(crate) async fn import_filters(t: Named, ApiJson(body): ApiJson<FiltersBody>) -> View {
    t.write(body.options(), SpecEdit::ImportFilters(body.filters))
        .await
}

/// Appends filters (tcld's `add`).
pub(crate) async fn add_filters(t: Named, ApiJson(body): ApiJson<FiltersBody>) -> View {
    t.write(body.options(), SpecEdit::AddFilters(body.filters))
        .await
}

/// Removes every filter (tcld's `clear`).
pub(crate) async fn clear_filters(t: Named, ApiQuery(q): ApiQuery<WriteQuery>) -> View {
    t.write(q.into(), SpecEdit::ClearFilters).await
}

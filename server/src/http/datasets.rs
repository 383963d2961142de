//! A tenant's datasets, as the data components left them: every member
//! reads them, downloads them (streamed, as CSV or JSON Lines, as
//! `export.file` writes them) and sees which processes write and read them.

use super::doc::{Invalid, NotFound, TenantPath, Unauthorized};
use crate::access::TenantAccess;
use crate::components::export::{write_rows, ExportFormat};
use crate::datasets::{self, OpenError, StoredDataset};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::datasets::{Dataset, DatasetDetail, DatasetUse, DownloadFormat, Lineage};
use app::api::problem::FieldError;
use axum::body::Body;
use axum::extract::Query;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
        .routes(routes!(download))
        .routes(routes!(lineage))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("reading datasets: {e}")))?
}

/// The tenant's datasets by name, with schema, size and which run task wrote each.
#[utoipa::path(get, path = "/tenants/{tenant}/datasets", tag = "datasets", params(TenantPath),
    responses((status = 200, body = [Dataset]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<Dataset>>> {
    let root = state.engine.tenant_dir(&access.tenant).join("datasets");
    let list = blocking(move || Ok(datasets::list(&root).map_err(anyhow::Error::from)?)).await?;
    Ok(axum::Json(list))
}

/// One dataset: its schema, its first 50 rows, its first 50 rejected rows and its latest quality report.
#[utoipa::path(get, path = "/tenants/{tenant}/datasets/{name}", tag = "datasets",
    params(TenantPath, ("name" = String, Path, description = "The dataset's name")),
    responses((status = 200, body = DatasetDetail), Unauthorized, NotFound))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, name)): Path<(String, String)>,
) -> Result<axum::Json<DatasetDetail>> {
    let root = state.engine.tenant_dir(&access.tenant).join("datasets");
    let detail = blocking(move || {
        let dataset = open(&root, &name)?;
        Ok(dataset.detail().map_err(anyhow::Error::from)?)
    })
    .await?;
    Ok(axum::Json(detail))
}

fn open(root: &std::path::Path, name: &str) -> Result<StoredDataset> {
    StoredDataset::open(root, name).map_err(|e| match e {
        OpenError::Missing(name) => Error::NotFound(format!("dataset `{name}`")),
        broken => Error::Internal(anyhow::anyhow!("{broken}")),
    })
}

/// Sends what is written to it, in chunks, to a response body; a gone
/// client ends the writing.
struct ToBody(tokio::sync::mpsc::Sender<std::io::Result<axum::body::Bytes>>);

impl std::io::Write for ToBody {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(axum::body::Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The whole dataset as a file, streamed: CSV (`format=csv`, the default)
/// or JSON Lines with typed values (`format=jsonl`).
#[utoipa::path(get, path = "/tenants/{tenant}/datasets/{name}/download", tag = "datasets",
    params(TenantPath, ("name" = String, Path, description = "The dataset's name"), DownloadFormat),
    responses((status = 200, description = "The dataset", content_type = "application/octet-stream"),
              Unauthorized, NotFound, Invalid))]
async fn download(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, name)): Path<(String, String)>,
    Query(q): Query<DownloadFormat>,
) -> Result<Response> {
    let (format, extension) = match q.format.as_deref() {
        None | Some("csv") => (ExportFormat::Csv, "csv"),
        Some("jsonl") => (ExportFormat::Jsonl, "jsonl"),
        Some(other) => {
            return Err(Error::Validation(vec![FieldError::new(
                "format",
                "enum",
                format!("`{other}` is not a download format: csv or jsonl"),
            )]))
        }
    };
    let root = state.engine.tenant_dir(&access.tenant).join("datasets");
    let dataset = {
        let (root, name) = (root.clone(), name.clone());
        blocking(move || open(&root, &name)).await?
    };
    let (send, receive) = tokio::sync::mpsc::channel(16);
    tokio::task::spawn_blocking(move || {
        let out = std::io::BufWriter::with_capacity(64 * 1024, ToBody(send.clone()));
        if let Err(e) = write_rows(&dataset, format, out, |_, _| {}) {
            // The client sees a cut-off body rather than a complete-looking one.
            let _ = send.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let chunks = futures::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|chunk| (chunk, receive))
    });
    let body = Body::from_stream(chunks);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{extension}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Which processes write the dataset and which read it, by their latest
/// versions' nodes (values that refer to a run's parameters are left out:
/// they name a dataset only when a run resolves them).
#[utoipa::path(get, path = "/tenants/{tenant}/datasets/{name}/lineage", tag = "datasets",
    params(TenantPath, ("name" = String, Path, description = "The dataset's name")),
    responses((status = 200, body = Lineage), Unauthorized, NotFound))]
async fn lineage(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, name)): Path<(String, String)>,
) -> Result<axum::Json<Lineage>> {
    let mut found = Lineage::default();
    for (process, process_name, version, graph) in
        crate::db::processes::latest_graphs(&state.db, &access.tenant).await?
    {
        for node in &graph.nodes {
            let (reads, writes) = app::catalog::dataset_uses(node.component.as_str(), &node.params);
            let using = || DatasetUse {
                process: process.clone(),
                process_name: process_name.clone(),
                version,
                node: node.id.clone(),
                component: node.component.to_string(),
            };
            if writes.contains(&name) {
                found.writers.push(using());
            }
            if reads.contains(&name) {
                found.readers.push(using());
            }
        }
    }
    let exists = {
        let root = state.engine.tenant_dir(&access.tenant).join("datasets");
        let name = name.clone();
        blocking(move || open(&root, &name).map(|_| ()))
            .await
            .is_ok()
    };
    if !exists && found.writers.is_empty() && found.readers.is_empty() {
        return Err(Error::NotFound(format!("dataset `{name}`")));
    }
    Ok(axum::Json(found))
}

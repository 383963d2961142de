//! The tenant's `data/` folder in the browser and over the API: the files
//! `ingest.file` reads. Every member lists and downloads; editors upload
//! and delete. Paths follow the steps' rules (relative, no `..`, no
//! symbolic link out). An upload streams its `multipart/form-data` part
//! into the tenant's `work/` folder within the upload limit and the disk
//! quota, and is moved into place only once whole: a broken or refused
//! upload leaves nothing.

use super::doc::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, TenantPath, Unauthorized,
    UnsupportedMediaType,
};
use crate::access::{EditorAccess, TenantAccess};
use crate::components::env::{existing_file, new_file};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::files::{DataFile, FilePath, UploadTarget};
use app::api::problem::FieldError;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, upload, remove))
        .routes(routes!(content))
}

/// Whether a request is an upload, whose body is bounded by the upload
/// limit instead of the API's request limit.
pub fn is_upload(method: &axum::http::Method, path: &str) -> bool {
    method == axum::http::Method::POST
        && path
            .strip_prefix("/api/v1/tenants/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(tenant, rest)| !tenant.is_empty() && rest == "files")
}

fn data_dir(state: &AppState, access: &TenantAccess) -> PathBuf {
    state.engine.tenant_dir(&access.tenant).join("data")
}

fn path_problem(message: String) -> Error {
    if message.contains("does not exist") {
        Error::NotFound(message)
    } else {
        Error::Validation(vec![FieldError::new("path", "invalid", message)])
    }
}

/// Every file in the folder, by path (symbolic links are not followed).
fn walk(root: &Path) -> std::io::Result<Vec<DataFile>> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                let meta = entry.metadata()?;
                let relative = entry.path();
                let relative = relative.strip_prefix(root).unwrap_or(&relative);
                let modified = meta
                    .modified()
                    .map(chrono::DateTime::<chrono::Utc>::from)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                    .unwrap_or_default();
                files.push(DataFile {
                    path: relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                    size: meta.len(),
                    modified,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The files in the tenant's data folder, by path.
#[utoipa::path(get, path = "/tenants/{tenant}/files", tag = "files", params(TenantPath),
    responses((status = 200, body = [DataFile]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<DataFile>>> {
    let root = data_dir(&state, &access);
    let files = tokio::task::spawn_blocking(move || walk(&root))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("listing files: {e}")))?
        .map_err(|e| Error::Internal(anyhow::anyhow!("listing files: {e}")))?;
    Ok(axum::Json(files))
}

/// A file's content, streamed, as an attachment.
#[utoipa::path(get, path = "/tenants/{tenant}/files/content", tag = "files", params(TenantPath, FilePath),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              Unauthorized, NotFound, Invalid))]
async fn content(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(q): Query<FilePath>,
) -> Result<Response> {
    let file = existing_file(&data_dir(&state, &access), &q.path, "data").map_err(path_problem)?;
    let opened = tokio::fs::File::open(&file)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("opening {}: {e}", q.path)))?;
    let size = opened
        .metadata()
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("reading {}: {e}", q.path)))?
        .len();
    let name = q.path.rsplit('/').next().unwrap_or("file");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, attachment(name)),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(opened)),
    )
        .into_response())
}

/// `Content-Disposition` for a download named `name`: an ASCII fallback
/// and the exact name in UTF-8 (RFC 6266, RFC 5987).
fn attachment(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}

/// Uploads a file into the data folder (editors): a `multipart/form-data`
/// body whose part `file` is the content. Within the upload limit
/// (`--upload-max-bytes`) and the tenant's disk quota (413 past either);
/// an existing file is replaced only with `overwrite=true` (else 409).
/// Nothing is left by an upload that fails.
#[utoipa::path(post, path = "/tenants/{tenant}/files", tag = "files", params(TenantPath, UploadTarget),
    request_body(content = inline(app::api::files::UploadForm), content_type = "multipart/form-data"),
    responses((status = 201, body = DataFile), BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
              PayloadTooLarge, UnsupportedMediaType, Invalid))]
async fn upload(
    State(state): State<AppState>,
    access: EditorAccess,
    Query(q): Query<UploadTarget>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<DataFile>)> {
    let root = data_dir(&state, &access);
    let target = new_file(&root, &q.path, "data").map_err(path_problem)?;
    if target.exists() && !q.overwrite {
        return Err(Error::Conflict {
            field: Some("path".into()),
            message: format!(
                "`{}` already exists in the data folder; upload with overwrite=true to replace it",
                q.path
            ),
        });
    }
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| {
            Error::UnsupportedMediaType(
                "an upload is multipart/form-data with the file in a part named `file`".into(),
            )
        })?;
    let limit = state.http.upload_max_bytes;
    let budget = crate::quota::Budget::new(state.engine.allowance(&access.tenant).await?);
    let work = state.engine.tenant_dir(&access.tenant).join("work");
    tokio::fs::create_dir_all(&work)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("preparing the upload: {e}")))?;
    // Dropped on any failure below, which deletes what arrived.
    let staged = tempfile::NamedTempFile::new_in(&work)
        .map_err(|e| Error::Internal(anyhow::anyhow!("preparing the upload: {e}")))?;
    let mut file = tokio::fs::File::from_std(
        staged
            .reopen()
            .map_err(|e| Error::Internal(anyhow::anyhow!("preparing the upload: {e}")))?,
    );
    let broken = |e: multer::Error| match e {
        multer::Error::StreamReadFailed(_) => Error::BadRequest(format!(
            "the upload broke off before its end ({e}); nothing was kept"
        )),
        e => Error::BadRequest(format!(
            "the upload is not a well-formed multipart body: {e}"
        )),
    };
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut size = 0u64;
    let mut found = false;
    while let Some(mut field) = form.next_field().await.map_err(broken)? {
        if field.name() != Some("file") {
            continue;
        }
        found = true;
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            size += chunk.len() as u64;
            if size > limit {
                return Err(Error::PayloadTooLarge(format!(
                    "the file is larger than the upload limit of {}; nothing was kept",
                    crate::components::human_bytes(limit)
                )));
            }
            if !budget.add(chunk.len() as u64) {
                let refusal = budget.check("upload", false).err().unwrap_or_default();
                return Err(Error::PayloadTooLarge(format!(
                    "{refusal}; nothing was kept"
                )));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::Internal(anyhow::anyhow!("writing the upload: {e}")))?;
        }
        break;
    }
    if !found {
        return Err(Error::Validation(vec![FieldError::new(
            "file",
            "required",
            "the multipart body has no part named `file`",
        )]));
    }
    file.sync_all()
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("writing the upload: {e}")))?;
    drop(file);
    staged.persist(&target).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::InvalidFilename
        | std::io::ErrorKind::NotADirectory
        | std::io::ErrorKind::IsADirectory => {
            path_problem(format!("`{}` cannot be written: {}", q.path, e.error))
        }
        _ => Error::Internal(anyhow::anyhow!("placing the upload: {}", e.error)),
    })?;
    state.engine.forget_usage(&access.tenant);
    let listed = DataFile {
        path: q.path.trim_start_matches("./").to_owned(),
        size,
        modified: crate::time::Timestamp::now().to_string(),
    };
    Ok((StatusCode::CREATED, axum::Json(listed)))
}

/// Deletes a file from the data folder (editors).
#[utoipa::path(delete, path = "/tenants/{tenant}/files", tag = "files", params(TenantPath, FilePath),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound, Invalid))]
async fn remove(
    State(state): State<AppState>,
    access: EditorAccess,
    Query(q): Query<FilePath>,
) -> Result<StatusCode> {
    let file = existing_file(&data_dir(&state, &access), &q.path, "data").map_err(path_problem)?;
    tokio::fs::remove_file(&file)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("deleting {}: {e}", q.path)))?;
    state.engine.forget_usage(&access.tenant);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_keep_their_names_in_any_script() {
        assert_eq!(
            attachment("orders.csv"),
            "attachment; filename=\"orders.csv\"; filename*=UTF-8''orders.csv"
        );
        assert_eq!(
            attachment("año \"1\".csv"),
            "attachment; filename=\"a_o _1_.csv\"; filename*=UTF-8''a%C3%B1o%20%221%22.csv"
        );
        let odd = attachment("\u{a4}9\u{d2}J\u{12f9e}");
        assert!(axum::http::HeaderValue::from_str(&odd).is_ok(), "{odd}");
    }

    #[test]
    fn uploads_are_told_apart() {
        let post = axum::http::Method::POST;
        assert!(is_upload(&post, "/api/v1/tenants/demo/files"));
        assert!(!is_upload(&post, "/api/v1/tenants/demo/files/content"));
        assert!(!is_upload(&post, "/api/v1/tenants//files"));
        assert!(!is_upload(
            &axum::http::Method::GET,
            "/api/v1/tenants/demo/files"
        ));
        assert!(!is_upload(&post, "/api/v1/tenants/demo/processes"));
    }
}

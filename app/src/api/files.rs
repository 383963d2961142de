//! The tenant's `data/` folder over the API: the files `ingest.file` reads.

use serde::{Deserialize, Serialize};

/// One file in the tenant's data folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DataFile {
    /// Its path inside the data folder, `/`-separated, as `ingest.file`'s
    /// `source` names it.
    pub path: String,
    pub size: u64,
    /// When it was last written (RFC 3339, UTC).
    pub modified: String,
}

/// Which file: `?path=…` inside the data folder.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct FilePath {
    /// A relative path inside the tenant's data folder (no `..`, no
    /// absolute path), e.g. `samples/orders.csv`.
    #[cfg_attr(feature = "ssr", param(min_length = 1, max_length = 1024))]
    pub path: String,
}

/// Where an upload goes: `?path=…`, and whether it may replace a file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct UploadTarget {
    /// A relative path inside the tenant's data folder, e.g.
    /// `samples/orders.csv`; its folders are made.
    #[cfg_attr(feature = "ssr", param(min_length = 1, max_length = 1024))]
    pub path: String,
    /// Replace a file already there (otherwise 409).
    #[serde(default)]
    pub overwrite: bool,
}

/// The multipart form of an upload: one part named `file`.
#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

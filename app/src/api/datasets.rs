//! Datasets on the wire: what the data components wrote, with schema and preview.

use crate::types::text_enum::text_enum;
use crate::types::RunId;
use serde::{Deserialize, Serialize};

text_enum!(
    /// The type inferred for a column from every value in it.
    ColumnType, "column type" {
        Integer => "integer",
        Number => "number",
        Boolean => "boolean",
        /// `YYYY-MM-DD`.
        Date => "date",
        /// RFC 3339, or `YYYY-MM-DD HH:MM:SS` without a zone.
        Timestamp => "timestamp",
        String => "string",
    }
);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// How many rows have no value in it.
    pub nulls: u64,
}

/// The run task that wrote a dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Producer {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub run: RunId,
    pub node: String,
}

/// A dataset as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Dataset {
    pub name: String,
    pub rows: u64,
    pub columns: Vec<Column>,
    /// Size of the stored data, in bytes.
    pub size_bytes: u64,
    /// Rows of the source the ingest rejected (see the reject file).
    #[serde(default)]
    pub rejected_rows: u64,
    /// Absent when it was not written by a run (for example by hand).
    #[serde(default)]
    pub produced_by: Option<Producer>,
    pub created_at: String,
}

/// A dataset with its first rows, each a list of values in column order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatasetDetail {
    #[serde(flatten)]
    pub dataset: Dataset,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<serde_json::Value>>))]
    pub preview: Vec<Vec<serde_json::Value>>,
    /// The first rows the ingest rejected, with why.
    pub rejects: Vec<Reject>,
    /// The latest quality check report of this data, if it was checked.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub quality: Option<serde_json::Value>,
}

/// A source row the ingest could not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Reject {
    /// Its line in the source file.
    pub line: u64,
    pub reason: String,
    /// The row as it was read.
    pub raw: String,
}

/// A process whose latest version reads or writes a dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatasetUse {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub process: crate::types::ProcessId,
    pub process_name: String,
    pub version: i64,
    /// The node that reads or writes it.
    pub node: String,
    pub component: String,
}

/// Which processes write a dataset and which read it (their latest
/// versions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Lineage {
    pub writers: Vec<DatasetUse>,
    pub readers: Vec<DatasetUse>,
}

/// `?format=csv|jsonl` of a download.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct DownloadFormat {
    /// `csv` (the default) or `jsonl`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(pattern = "^(csv|jsonl)$"))]
    pub format: Option<String>,
}

//! Typed identifiers, so that a `RunId` cannot be passed where a `ProcessId` is
//! expected. All are opaque strings on the wire and in the database.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

id_type!(
    /// A tenant's internal id (its public handle is the slug).
    TenantId
);
id_type!(
    /// A user's internal id.
    UserId
);
id_type!(
    /// A process's id.
    ProcessId
);
id_type!(
    /// A run's id.
    RunId
);
id_type!(
    /// A task's key inside a DAG (`PEntry`, `C_ingest`, `W_ingest`, `PExit`).
    TaskKey
);
id_type!(
    /// A component type's catalog key, such as `ingest.file`.
    ComponentKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let id = RunId::new("0190a5c4-run");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0190a5c4-run\"");
        let back: RunId = serde_json::from_str("\"0190a5c4-run\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(back.to_string(), "0190a5c4-run");
    }
}

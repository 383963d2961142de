//! Typed identifiers, so that a `RunId` cannot be passed where a `ProcessId` is
//! expected. All are opaque strings on the wire and in the database (a text
//! column binds and decodes straight into them under `ssr`). They have no
//! OpenAPI schema of their own: a field holding one says
//! `#[schema(value_type = String)]`, so the document keeps plain strings.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
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

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Sound: the derived `Eq`, `Ord` and `Hash` are those of the string.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
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
id_type!(
    /// A published version's id (its public handle is its number).
    VersionId
);
id_type!(
    /// A connection's id.
    ConnectionId
);
id_type!(
    /// A schedule's id.
    ScheduleId
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

impl RunId {
    /// The run as people tell runs apart at a glance: its id's last eight
    /// characters (its first ones are its creation time, shared by the
    /// runs of the same moment).
    pub fn short(&self) -> &str {
        let id = self.as_str();
        id.get(id.len().saturating_sub(8)..).unwrap_or(id)
    }
}

#[cfg(test)]
mod short_tests {
    use super::RunId;

    #[test]
    fn runs_of_the_same_moment_look_different() {
        let a = RunId::new("01a22cdc-6bad-72c2-a8ac-016498021e34");
        let b = RunId::new("01a22cdc-6bad-72c2-a8ac-0164980abc12");
        assert_eq!(a.short(), "98021e34");
        assert_ne!(a.short(), b.short());
        assert_eq!(RunId::new("abc").short(), "abc");
    }
}

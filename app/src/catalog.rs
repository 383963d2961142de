//! The built-in component catalog seeded at first start. `trellis` as a
//! program means the running Trellis binary itself (`trellis step …`).

use crate::types::component::{ComponentType, LocalExec, ParamKind, ParamSpec};
use serde_json::json;

fn local(args: &[&str]) -> Option<LocalExec> {
    Some(LocalExec {
        program: "trellis".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    })
}

/// The catalog entries every deployment starts with.
pub fn builtin() -> Vec<ComponentType> {
    vec![
        ComponentType {
            key: "noop".into(),
            name: "No-op".into(),
            category: "Testing".into(),
            description: "Does nothing and succeeds.".into(),
            icon: "circle".into(),
            params: vec![],
            local: local(&["step", "noop"]),
            emr: None,
            retries: 0,
            retry_delay_seconds: 5.0,
            timeout_seconds: None,
        },
        ComponentType {
            key: "sleep".into(),
            name: "Sleep".into(),
            category: "Testing".into(),
            description: "Waits for a number of seconds, then succeeds.".into(),
            icon: "clock".into(),
            params: vec![ParamSpec {
                name: "seconds".into(),
                label: "Seconds".into(),
                kind: ParamKind::Number {
                    min: Some(0.0),
                    max: Some(86_400.0),
                },
                required: true,
                default: None,
                help: Some("How long to wait.".into()),
            }],
            local: local(&["step", "sleep", "--seconds", "{seconds}"]),
            emr: None,
            retries: 0,
            retry_delay_seconds: 5.0,
            timeout_seconds: None,
        },
        ComponentType {
            key: "fail".into(),
            name: "Fail".into(),
            category: "Testing".into(),
            description: "Fails at once with a message.".into(),
            icon: "x-circle".into(),
            params: vec![ParamSpec {
                name: "message".into(),
                label: "Message".into(),
                kind: ParamKind::String {
                    pattern: None,
                    max_length: Some(1_000),
                },
                required: false,
                default: Some(json!("failed on purpose")),
                help: Some("The error the task reports.".into()),
            }],
            local: local(&["step", "fail", "--message", "{message}"]),
            emr: None,
            retries: 0,
            retry_delay_seconds: 5.0,
            timeout_seconds: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_entry_is_valid() {
        for component in super::builtin() {
            let errors = crate::validate::validate_component(&component);
            assert!(errors.is_empty(), "{}: {errors:?}", component.key);
        }
    }
}

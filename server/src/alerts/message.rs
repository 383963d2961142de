//! What an alert says: a one-line summary and the JSON document a webhook
//! receives (made once, when the delivery is made, and stored with it), and
//! how the other channels render that document.

use app::api::alerts::AlertTrigger;
use app::api::runs::Run;
use app::types::{RunState, TaskState};
use serde_json::{json, Value};

/// Who the alert is for: the tenant's slug and name.
pub struct TenantNames<'a> {
    pub slug: &'a str,
    pub name: &'a str,
}

/// An alert: its summary and its document.
pub struct Message {
    pub summary: String,
    pub payload: Value,
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// The run's failed tasks, as the document lists them.
fn failed_tasks(run: &Run) -> Vec<Value> {
    run.tasks
        .iter()
        .filter(|t| t.state == TaskState::Failed)
        .map(|t| json!({ "task": t.key, "node": t.node, "error": t.error, "attempt": t.attempt }))
        .collect()
}

/// The alert `trigger` raises about `run` (`threshold` as the rule says).
pub fn about_run(
    run: &Run,
    tenant: &TenantNames<'_>,
    trigger: AlertTrigger,
    threshold: Option<i64>,
    public_url: &str,
) -> Message {
    let name = format!("{} #{}", run.process_name, run.number);
    let link = format!("{}/runs/{}", public_url.trim_end_matches('/'), run.id);
    let took = match (
        run.started_at
            .as_deref()
            .and_then(crate::time::Timestamp::parse),
        run.finished_at
            .as_deref()
            .and_then(crate::time::Timestamp::parse),
    ) {
        (Some(start), Some(end)) => {
            Some((end.as_datetime() - start.as_datetime()).num_milliseconds())
        }
        _ => None,
    };
    let failure = run
        .tasks
        .iter()
        .find(|t| t.state == TaskState::Failed && t.error.is_some());
    let why = failure
        .map(|t| {
            let node = t.node.as_deref().unwrap_or(t.key.as_str());
            format!(
                ": {node} — {}",
                first_line(t.error.as_deref().unwrap_or(""))
            )
        })
        .unwrap_or_default();
    let summary = match trigger {
        AlertTrigger::Failure => format!("{name} failed (version {}){why}", run.version),
        AlertTrigger::Success => match took {
            Some(ms) => format!(
                "{name} succeeded in {}",
                app::components::time::duration(ms)
            ),
            None => format!("{name} succeeded"),
        },
        AlertTrigger::Overdue => format!(
            "{name} is still {} after {} minutes",
            run.state.as_str(),
            threshold.unwrap_or(0)
        ),
        AlertTrigger::FailureStreak => format!(
            "{} has failed {} runs in a row (latest {name}){why}",
            run.process_name,
            threshold.unwrap_or(0)
        ),
        AlertTrigger::Recovery => format!("{name} succeeded after a failure"),
    };
    let payload = json!({
        "trigger": trigger,
        "summary": summary,
        "tenant": { "slug": tenant.slug, "name": tenant.name },
        "process": { "id": run.process, "name": run.process_name },
        "version": run.version,
        "run": {
            "id": run.id,
            "number": run.number,
            "state": run.state,
            "trigger": run.trigger,
            "started_by": run.created_by,
            "created_at": run.created_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_ms": took,
            "params": run.params,
        },
        "failed_tasks": failed_tasks(run),
        "threshold": threshold,
        "link": link,
    });
    Message { summary, payload }
}

/// The alert "send a test" sends through channel `channel`.
pub fn test(tenant: &TenantNames<'_>, channel: &str, public_url: &str) -> Message {
    let summary = format!(
        "Test alert from Trellis for {} (channel {channel}): alerts reach you here",
        tenant.name
    );
    let payload = json!({
        "trigger": null,
        "test": true,
        "summary": summary,
        "tenant": { "slug": tenant.slug, "name": tenant.name },
        "link": format!("{}/alerts", public_url.trim_end_matches('/')),
    });
    Message { summary, payload }
}

/// The body a Slack-style incoming webhook receives.
pub fn slack(payload: &Value) -> Value {
    let summary = payload["summary"].as_str().unwrap_or("Trellis alert");
    let link = payload["link"].as_str().unwrap_or("");
    let mut text = format!("{summary}\n<{link}|Open in Trellis>");
    for task in payload["failed_tasks"].as_array().into_iter().flatten() {
        let node = task["node"]
            .as_str()
            .or(task["task"].as_str())
            .unwrap_or("");
        let error = first_line(task["error"].as_str().unwrap_or(""));
        text.push_str(&format!("\n• {node}: {error}"));
    }
    json!({ "text": text })
}

/// An email's lines: `(label, value)` pairs under the summary.
fn email_facts(payload: &Value) -> Vec<(&'static str, String)> {
    let run = &payload["run"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut facts = vec![("Tenant", text(&payload["tenant"]["name"]))];
    if run.is_object() {
        facts.push(("Process", text(&payload["process"]["name"])));
        facts.push(("Version", text(&payload["version"])));
        facts.push(("Run", format!("#{}", text(&run["number"]))));
        facts.push(("State", text(&run["state"])));
        facts.push(("Started", text(&run["started_at"])));
        facts.push(("Finished", text(&run["finished_at"])));
    }
    for task in payload["failed_tasks"].as_array().into_iter().flatten() {
        let node = text(&task["node"]);
        let error = text(&task["error"]);
        facts.push(("Failed", format!("{node}: {}", first_line(&error))));
    }
    facts.retain(|(_, v)| !v.is_empty());
    facts
}

/// An email: subject, plain text and HTML bodies.
pub fn email(payload: &Value) -> (String, String, String) {
    use html_escape::encode_text;
    let summary = payload["summary"].as_str().unwrap_or("Trellis alert");
    let link = payload["link"].as_str().unwrap_or("");
    let facts = email_facts(payload);
    let mut plain = format!("{summary}\n\n");
    for (label, value) in &facts {
        plain.push_str(&format!("{label}: {value}\n"));
    }
    plain.push_str(&format!("\nOpen in Trellis: {link}\n"));
    let mut html = format!(
        "<!doctype html><html><body><p><strong>{}</strong></p><table>",
        encode_text(summary)
    );
    for (label, value) in &facts {
        html.push_str(&format!(
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>",
            encode_text(value)
        ));
    }
    html.push_str(&format!(
        "</table><p><a href=\"{}\">Open in Trellis</a></p></body></html>",
        html_escape::encode_double_quoted_attribute(link)
    ));
    (format!("[Trellis] {summary}"), plain, html)
}

/// Whether `trigger` fires for `run`, given the final states of the runs
/// of its process before it (newest first, `succeeded`/`failed` only).
pub fn fires(
    trigger: AlertTrigger,
    threshold: Option<i64>,
    state: RunState,
    before: &[RunState],
) -> bool {
    match trigger {
        AlertTrigger::Failure => state == RunState::Failed,
        AlertTrigger::Success => state == RunState::Succeeded,
        AlertTrigger::Recovery => {
            state == RunState::Succeeded && before.first() == Some(&RunState::Failed)
        }
        AlertTrigger::FailureStreak => {
            let n = threshold.unwrap_or(0);
            if state != RunState::Failed || n < 2 {
                return false;
            }
            // Exactly `n`: once per streak, when it reaches the threshold.
            let streak = 1 + before
                .iter()
                .take_while(|s| **s == RunState::Failed)
                .count() as i64;
            streak == n
        }
        AlertTrigger::Overdue => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunState::{Failed as F, Succeeded as S};

    #[test]
    fn a_streak_fires_once_when_it_reaches_its_length() {
        let streak = |before: &[RunState]| fires(AlertTrigger::FailureStreak, Some(3), F, before);
        assert!(!streak(&[]));
        assert!(!streak(&[F]));
        assert!(streak(&[F, F]));
        assert!(streak(&[F, F, S, F]));
        assert!(
            !streak(&[F, F, F]),
            "the fourth failure in a row is the same streak"
        );
        assert!(!fires(AlertTrigger::FailureStreak, Some(3), S, &[F, F]));
    }

    #[test]
    fn recovery_is_a_success_right_after_a_failure() {
        assert!(fires(AlertTrigger::Recovery, None, S, &[F, S]));
        assert!(!fires(AlertTrigger::Recovery, None, S, &[S, F]));
        assert!(!fires(AlertTrigger::Recovery, None, S, &[]));
        assert!(!fires(AlertTrigger::Recovery, None, F, &[F]));
        assert!(!fires(
            AlertTrigger::Failure,
            None,
            RunState::Cancelled,
            &[]
        ));
    }

    #[test]
    fn an_email_escapes_what_tenants_wrote() {
        let payload = json!({
            "summary": "<b>p</b> #1 failed",
            "tenant": {"name": "A & B"},
            "link": "http://x/runs/1?a=\"b\"",
        });
        let (subject, plain, html) = email(&payload);
        assert_eq!(subject, "[Trellis] <b>p</b> #1 failed");
        assert!(plain.contains("Tenant: A & B"), "{plain}");
        assert!(
            html.contains("&lt;b&gt;p&lt;/b&gt;") && html.contains("A &amp; B"),
            "{html}"
        );
        assert!(!html.contains("\"b\""), "{html}");
    }
}

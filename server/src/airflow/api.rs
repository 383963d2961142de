//! The Airflow 3 REST API (v2) calls Trellis makes: a DAG's parse state and
//! import errors, triggering, failing, reading and clearing runs. A
//! self-managed Airflow is called directly with a JWT from
//! `POST /auth/token`; an Amazon MWAA environment through the AWS API
//! (`InvokeRestApi`), whose exceptions carry Airflow's own status and body,
//! which callers see exactly as from a direct call.

use super::deploy::{Door, Folder};
use crate::config::Secret;
use app::types::TaskKey;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// One Airflow deployment, and how it is reached.
pub struct AirflowApi {
    transport: Transport,
}

enum Transport {
    Direct {
        base: String,
        username: String,
        password: Secret,
        http: reqwest::Client,
        token: Mutex<Option<(String, Instant)>>,
    },
    Mwaa(super::mwaa::Mwaa),
}

/// What went wrong talking to Airflow, in words for the user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub String);

type Result<T> = std::result::Result<T, ApiError>;

/// A DAG as Airflow knows it.
#[derive(Debug, Clone, Deserialize)]
pub struct DagState {
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub is_stale: bool,
    #[serde(default)]
    pub has_import_errors: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    pub name: String,
}

/// One task instance of a DAG run.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskInstance {
    pub task_id: TaskKey,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub try_number: i64,
}

/// Tokens are asked for again after this long (Airflow's default lifetime
/// is a day; any 401 also asks again).
const TOKEN_REUSE: Duration = Duration::from_secs(600);

impl AirflowApi {
    /// `credentials`: the server's own AWS credentials for MWAA (`None`:
    /// the default chain).
    pub fn new(door: &Door, credentials: Option<aws_credential_types::Credentials>) -> AirflowApi {
        let transport = match door {
            Door::Direct {
                url,
                username,
                password,
            } => Transport::Direct {
                base: url.trim_end_matches('/').to_owned(),
                username: username.to_owned(),
                password: password.clone(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .expect("an HTTP client"),
                token: Mutex::new(None),
            },
            Door::Mwaa {
                environment,
                region,
                endpoint_url,
            } => Transport::Mwaa(super::mwaa::Mwaa::new(
                environment,
                region,
                endpoint_url.clone(),
                credentials,
            )),
        };
        AirflowApi { transport }
    }

    /// The DAGs folder of an MWAA environment, from `GetEnvironment`.
    pub async fn dags_folder(&self) -> Result<Folder> {
        match &self.transport {
            Transport::Mwaa(mwaa) => mwaa.dags_folder().await,
            Transport::Direct { .. } => Err(ApiError(
                "a self-managed Airflow's DAGs folder is configured (TRELLIS_AIRFLOW_DAGS)".into(),
            )),
        }
    }

    async fn token(
        base: &str,
        username: &str,
        password: &Secret,
        http: &reqwest::Client,
        token: &Mutex<Option<(String, Instant)>>,
        fresh: bool,
    ) -> Result<String> {
        let mut slot = token.lock().await;
        if let Some((token, at)) = slot.as_ref() {
            if !fresh && at.elapsed() < TOKEN_REUSE {
                return Ok(token.clone());
            }
        }
        let reply = http
            .post(format!("{base}/auth/token"))
            .json(&json!({ "username": username, "password": password.expose() }))
            .send()
            .await
            .map_err(|e| ApiError(format!("Airflow at {base} cannot be reached: {e}")))?;
        let status = reply.status();
        if !status.is_success() {
            let text = reply.text().await.unwrap_or_default();
            return Err(ApiError(format!(
                "Airflow refused the sign-in ({status}): {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
        }
        let token: Token = reply
            .json()
            .await
            .map_err(|e| ApiError(format!("Airflow's token answer is not understood: {e}")))?;
        *slot = Some((token.access_token.clone(), Instant::now()));
        Ok(token.access_token)
    }

    /// Sends one call (`path` from `/api/v2` on, with its query): Airflow's
    /// status and body, however it was reached.
    pub(super) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(reqwest::StatusCode, Value)> {
        match &self.transport {
            Transport::Mwaa(mwaa) => {
                let answer = mwaa.invoke(method.as_str(), path, body).await;
                let outcome = match &answer {
                    Ok((status, _)) if status.is_success() => "ok",
                    Ok(_) => "error",
                    Err(_) => "unreachable",
                };
                crate::metrics::airflow_call(method.as_str(), path, outcome);
                answer
            }
            Transport::Direct {
                base,
                username,
                password,
                http,
                token,
            } => Self::call_direct(base, username, password, http, token, method, path, body).await,
        }
    }

    /// Sends one call; asks for a new token once when Airflow answers 401.
    #[allow(clippy::too_many_arguments)]
    async fn call_direct(
        base: &str,
        username: &str,
        password: &Secret,
        http: &reqwest::Client,
        token: &Mutex<Option<(String, Instant)>>,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(reqwest::StatusCode, Value)> {
        for fresh in [false, true] {
            let token = Self::token(base, username, password, http, token, fresh).await?;
            let mut request = http
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let reply = request.send().await.map_err(|e| {
                crate::metrics::airflow_call(method.as_str(), path, "unreachable");
                ApiError(format!("Airflow at {base} cannot be reached: {e}"))
            })?;
            let status = reply.status();
            let outcome = if status.is_success() { "ok" } else { "error" };
            crate::metrics::airflow_call(method.as_str(), path, outcome);
            if status == reqwest::StatusCode::UNAUTHORIZED && !fresh {
                continue;
            }
            let value = reply.json::<Value>().await.unwrap_or(Value::Null);
            return Ok((status, value));
        }
        unreachable!("the second try returns")
    }

    pub(super) fn failed(what: &str, status: reqwest::StatusCode, body: &Value) -> ApiError {
        let detail = body
            .get("detail")
            .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
            .unwrap_or_else(|| body.to_string());
        ApiError(format!("{what}: Airflow answered {status}: {detail}"))
    }

    /// The DAG, or `None` while Airflow does not know it.
    pub async fn dag(&self, dag_id: &str) -> Result<Option<DagState>> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v2/dags/{dag_id}"),
                None,
            )
            .await?;
        match status {
            s if s.is_success() => serde_json::from_value(body)
                .map(Some)
                .map_err(|e| ApiError(format!("Airflow's DAG answer is not understood: {e}"))),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s => Err(Self::failed(&format!("reading DAG {dag_id}"), s, &body)),
        }
    }

    /// Pauses a DAG (one Airflow does not know is fine).
    pub async fn pause(&self, dag_id: &str) -> Result<()> {
        let (status, body) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v2/dags/{dag_id}"),
                Some(&json!({ "is_paused": true })),
            )
            .await?;
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Self::failed(
                &format!("pausing DAG {dag_id}"),
                status,
                &body,
            ))
        }
    }

    /// Airflow's import error for the file named `file` (its last path
    /// segment), if it has one.
    pub async fn import_error(&self, file: &str) -> Result<Option<String>> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                "/api/v2/importErrors?limit=100&order_by=-import_error_id",
                None,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failed("reading import errors", status, &body));
        }
        let errors = body["import_errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(errors.iter().find_map(|e| {
            let name = e["filename"].as_str()?;
            (name == file || name.ends_with(&format!("/{file}")))
                .then(|| e["stack_trace"].as_str().unwrap_or_default().to_owned())
        }))
    }

    /// Starts a run now (`logical_date: null`); its `dag_run_id`.
    pub async fn trigger(&self, dag_id: &str, conf: &Value) -> Result<String> {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v2/dags/{dag_id}/dagRuns"),
                Some(&json!({ "logical_date": null, "conf": conf })),
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failed(&format!("triggering {dag_id}"), status, &body));
        }
        body["dag_run_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError(format!("Airflow answered no dag_run_id: {body}")))
    }

    /// Marks a run failed: Airflow stops scheduling its tasks and ends the
    /// running ones.
    pub async fn fail_run(&self, dag_id: &str, run_id: &str) -> Result<()> {
        let (status, body) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v2/dags/{dag_id}/dagRuns/{}", encode(run_id)),
                Some(&json!({ "state": "failed" })),
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failed(
                &format!("stopping run {run_id}"),
                status,
                &body,
            ));
        }
        Ok(())
    }

    /// Clears task instances `tasks` of run `run_id` (whatever their state)
    /// and what is downstream of them, and queues the run again: Airflow
    /// runs them as their next try and keeps the rest. The ids it cleared.
    pub async fn clear(
        &self,
        dag_id: &str,
        run_id: &str,
        tasks: &[TaskKey],
    ) -> Result<Vec<String>> {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v2/dags/{dag_id}/clearTaskInstances"),
                Some(&clear_body(run_id, tasks)),
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failed(
                &format!("clearing run {run_id}"),
                status,
                &body,
            ));
        }
        let cleared = body["task_instances"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(cleared
            .iter()
            .filter_map(|ti| ti["task_id"].as_str().map(str::to_owned))
            .collect())
    }

    /// The run's state and its task instances.
    pub async fn run(&self, dag_id: &str, run_id: &str) -> Result<(String, Vec<TaskInstance>)> {
        let path = format!("/api/v2/dags/{dag_id}/dagRuns/{}", encode(run_id));
        let (status, body) = self.call(reqwest::Method::GET, &path, None).await?;
        if !status.is_success() {
            return Err(Self::failed(
                &format!("reading run {run_id}"),
                status,
                &body,
            ));
        }
        let state = body["state"].as_str().unwrap_or_default().to_owned();
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("{path}/taskInstances?limit=1000"),
                None,
            )
            .await?;
        if !status.is_success() {
            return Err(Self::failed(
                &format!("reading run {run_id}'s tasks"),
                status,
                &body,
            ));
        }
        let tasks = serde_json::from_value(body["task_instances"].clone())
            .map_err(|e| ApiError(format!("Airflow's task answer is not understood: {e}")))?;
        Ok((state, tasks))
    }
}

/// The body of `clearTaskInstances` for `tasks` of one run: not a dry run
/// (Airflow's default), whatever state they are in (`only_failed` would
/// leave a node's succeeded submit, and a stopped run's skipped tasks, as
/// they are), with their downstream, the run queued again.
fn clear_body(run_id: &str, tasks: &[TaskKey]) -> Value {
    json!({
        "dry_run": false,
        "dag_run_id": run_id,
        "task_ids": tasks,
        "only_failed": false,
        "only_running": false,
        "include_downstream": true,
        "include_upstream": false,
        "include_future": false,
        "include_past": false,
        "reset_dag_runs": true,
    })
}

/// A run id (`manual__2026-…+00:00`) as one path segment.
fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_names_the_run_and_its_tasks_and_is_no_dry_run() {
        let tasks = [
            TaskKey::from("C_b"),
            TaskKey::from("W_b"),
            TaskKey::from("PExit"),
        ];
        let body = clear_body("manual__2026-11-30T06:00:00+00:00", &tasks);
        assert_eq!(body["dry_run"], false, "Airflow's default is a dry run");
        assert_eq!(body["dag_run_id"], "manual__2026-11-30T06:00:00+00:00");
        assert_eq!(body["task_ids"], json!(["C_b", "W_b", "PExit"]));
        assert_eq!(body["only_failed"], false);
        assert_eq!(body["include_downstream"], true);
        assert_eq!(body["reset_dag_runs"], true);
        // Nothing of other runs.
        assert_eq!(
            (body["include_past"].clone(), body["include_future"].clone()),
            (json!(false), json!(false))
        );
    }

    #[test]
    fn run_ids_are_one_path_segment() {
        assert_eq!(
            encode("manual__2026-11-30T06:00:00+00:00"),
            "manual__2026-11-30T06%3A00%3A00%2B00%3A00"
        );
    }
}

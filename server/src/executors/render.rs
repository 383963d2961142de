//! Renders an argv template (`["--in", "{dataset}", "--max={limit}"]`) from a
//! node's parameter values. Each value becomes part of exactly one argument:
//! nothing is ever parsed by a shell, so no value can add a command or flag.

use app::types::component::ComponentType;
use app::types::ComponentKey;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("parameter `{0}` has no value and no default")]
    Missing(String),
    #[error("`{{{0}}}` names no parameter of component `{1}`")]
    Unknown(String, ComponentKey),
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders every argument of `template`, taking each `{name}` from `values`
/// or else from the parameter's default.
pub fn render_args(
    component: &ComponentType,
    template: &[String],
    values: &Map<String, Value>,
) -> Result<Vec<String>, RenderError> {
    template
        .iter()
        .map(|arg| {
            let mut out = String::with_capacity(arg.len());
            let mut rest = arg.as_str();
            while let Some(open) = rest.find('{') {
                let Some(close) = rest[open..].find('}') else {
                    break;
                };
                let name = &rest[open + 1..open + close];
                let spec = component
                    .param(name)
                    .ok_or_else(|| RenderError::Unknown(name.to_owned(), component.key.clone()))?;
                let value = values
                    .get(name)
                    .filter(|v| !v.is_null())
                    .or(spec.default.as_ref())
                    .ok_or_else(|| RenderError::Missing(name.to_owned()))?;
                out.push_str(&rest[..open]);
                out.push_str(&as_text(value));
                rest = &rest[open + close + 1..];
            }
            out.push_str(rest);
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sleep() -> ComponentType {
        app::catalog::builtin()
            .into_iter()
            .find(|c| c.key == "sleep")
            .unwrap()
    }

    fn fail() -> ComponentType {
        app::catalog::builtin()
            .into_iter()
            .find(|c| c.key == "fail")
            .unwrap()
    }

    #[test]
    fn values_fill_their_placeholders() {
        let c = sleep();
        let args = render_args(
            &c,
            &c.local.clone().unwrap().args,
            json!({"seconds": 2.5}).as_object().unwrap(),
        );
        assert_eq!(args.unwrap(), ["step", "sleep", "--seconds=2.5"]);
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let c = fail();
        let args = render_args(&c, &c.local.clone().unwrap().args, &Map::new()).unwrap();
        assert_eq!(args, ["step", "fail", "--message=failed on purpose"]);
    }

    #[test]
    fn hostile_values_stay_one_argument() {
        let c = fail();
        let hostile = "x; rm -rf / && echo $(id) --force\n--seconds 9";
        let args = render_args(
            &c,
            &c.local.clone().unwrap().args,
            json!({"message": hostile}).as_object().unwrap(),
        );
        assert_eq!(
            args.unwrap(),
            ["step", "fail", format!("--message={hostile}").as_str()]
        );
    }

    #[test]
    fn embedded_placeholders_and_errors() {
        let c = sleep();
        let values = json!({"seconds": 3}).as_object().unwrap().clone();
        let args = render_args(
            &c,
            &["--s={seconds}s".into(), "{seconds}{seconds}".into()],
            &values,
        )
        .unwrap();
        assert_eq!(args, ["--s=3s", "33"]);
        assert_eq!(
            render_args(&c, &["{seconds}".into()], &Map::new()),
            Err(RenderError::Missing("seconds".into()))
        );
        assert_eq!(
            render_args(&c, &["{nope}".into()], &values),
            Err(RenderError::Unknown("nope".into(), "sleep".into()))
        );
    }
}

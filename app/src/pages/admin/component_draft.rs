//! The component editor's model: the form as the admin typed it (numbers stay
//! text until they parse, argument lists are one argument a line), the
//! catalog entry it makes, every problem of it — the form's own (text where a
//! number belongs) and those of the shared validator, which the server runs
//! on save — and the fields the form shows problems under. No browser here:
//! the tests below run it as it is.

use crate::api::FieldError;
use crate::components::param_input::{parse_value, text_of};
use crate::ordered::CollectOrdered;
use crate::types::component::{ComponentType, EmrStepTemplate, LocalExec, ParamKind, ParamSpec};
use crate::types::params::ParamType;
use crate::types::ComponentKey;
use crate::validate::validate_component;
use serde_json::Value;
use std::collections::BTreeSet;
use std::str::FromStr;

/// The parameter types, as the type select offers them (`ParamKind`'s tags).
pub const KINDS: [&str; 6] = ["string", "text", "integer", "number", "boolean", "enum"];

/// The languages a text parameter's editor knows.
pub const LANGUAGES: [&str; 2] = ["sql", crate::rules::LANGUAGE];

/// What EMR does when the step fails (`ActionOnFailure`).
pub const EMR_ACTIONS: [&str; 4] = [
    "CONTINUE",
    "CANCEL_AND_WAIT",
    "TERMINATE_CLUSTER",
    "TERMINATE_JOB_FLOW",
];

/// The fields of the component itself that have a place on the form.
const TOP_FIELDS: [&str; 8] = [
    "key",
    "name",
    "category",
    "description",
    "icon",
    "retries",
    "retry_delay_seconds",
    "timeout_seconds",
];

/// One parameter's row of the form.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDraft {
    /// Names the row while it is edited and moved; never saved.
    pub row: u64,
    pub name: String,
    pub label: String,
    /// One of [`KINDS`].
    pub kind: String,
    /// `string`: what the whole value matches.
    pub pattern: String,
    /// `string` and `text`.
    pub max_length: String,
    /// `text`.
    pub language: String,
    /// `integer` and `number`.
    pub min: String,
    pub max: String,
    /// `enum`: one value a line.
    pub values: String,
    pub required: bool,
    /// As typed; read as the type says ([`ParamDraft::default_value`]).
    pub default: String,
    pub help: String,
}

impl ParamDraft {
    fn blank(row: u64) -> Self {
        Self {
            row,
            name: String::new(),
            label: String::new(),
            kind: KINDS[0].to_owned(),
            pattern: String::new(),
            max_length: String::new(),
            language: String::new(),
            min: String::new(),
            max: String::new(),
            values: String::new(),
            required: false,
            default: String::new(),
            help: String::new(),
        }
    }

    fn of(row: u64, spec: &ParamSpec) -> Self {
        let mut p = Self::blank(row);
        p.name.clone_from(&spec.name);
        p.label.clone_from(&spec.label);
        p.kind = spec.kind.type_name().to_owned();
        match &spec.kind {
            ParamKind::String {
                pattern,
                max_length,
            } => {
                p.pattern = pattern.clone().unwrap_or_default();
                p.max_length = text_or_blank(max_length.as_ref());
            }
            ParamKind::Text {
                language,
                max_length,
            } => {
                p.language = language.clone().unwrap_or_default();
                p.max_length = text_or_blank(max_length.as_ref());
            }
            ParamKind::Integer { min, max } => {
                p.min = text_or_blank(min.as_ref());
                p.max = text_or_blank(max.as_ref());
            }
            ParamKind::Number { min, max } => {
                p.min = text_or_blank(min.as_ref());
                p.max = text_or_blank(max.as_ref());
            }
            ParamKind::Boolean => {}
            ParamKind::Enum { values } => p.values = values.join("\n"),
        }
        p.required = spec.required;
        p.default = text_of(spec.default.as_ref());
        p.help = spec.help.clone().unwrap_or_default();
        p
    }

    /// The values of an `enum`, one a line (empty lines left out).
    pub fn choices(&self) -> Vec<String> {
        lines(&self.values)
    }

    /// How the default's text reads.
    fn value_type(&self) -> ParamType {
        match self.kind.as_str() {
            "integer" => ParamType::Integer,
            "number" => ParamType::Number,
            "boolean" => ParamType::Boolean,
            "enum" => ParamType::Enum,
            _ => ParamType::String,
        }
    }

    /// The default as a value of the parameter's type (`None` when empty);
    /// text that does not read as one stays text, for the validator to name.
    pub fn default_value(&self) -> Option<Value> {
        parse_value(self.value_type(), &self.default)
    }

    /// The constraints a parameter of this row's type has, by field name.
    fn constraint_fields(&self) -> &'static [&'static str] {
        match self.kind.as_str() {
            "string" => &["pattern", "max_length"],
            "text" => &["language", "max_length"],
            "integer" | "number" => &["min", "max"],
            "enum" => &["values"],
            _ => &[],
        }
    }

    /// The parameter this row declares; `at` (`params[2]`) names its fields
    /// in the problems of text that is not the number it must be.
    fn spec(&self, at: &str, errors: &mut Vec<FieldError>) -> ParamSpec {
        let kind = match self.kind.as_str() {
            "text" => ParamKind::Text {
                language: non_blank(&self.language).map(|l| l.trim().to_owned()),
                max_length: parsed(
                    &self.max_length,
                    format!("{at}.max_length"),
                    "the maximum length is a whole number of characters",
                    errors,
                ),
            },
            "integer" => ParamKind::Integer {
                min: parsed(
                    &self.min,
                    format!("{at}.min"),
                    "min is a whole number",
                    errors,
                ),
                max: parsed(
                    &self.max,
                    format!("{at}.max"),
                    "max is a whole number",
                    errors,
                ),
            },
            "number" => ParamKind::Number {
                min: finite(&self.min, format!("{at}.min"), "min is a number", errors),
                max: finite(&self.max, format!("{at}.max"), "max is a number", errors),
            },
            "boolean" => ParamKind::Boolean,
            "enum" => ParamKind::Enum {
                values: self.choices(),
            },
            _ => ParamKind::String {
                pattern: non_blank(&self.pattern),
                max_length: parsed(
                    &self.max_length,
                    format!("{at}.max_length"),
                    "the maximum length is a whole number of characters",
                    errors,
                ),
            },
        };
        ParamSpec {
            name: self.name.clone(),
            label: self.label.clone(),
            kind,
            required: self.required,
            default: self.default_value(),
            help: non_blank(&self.help),
        }
    }
}

/// The component editor's form.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub key: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub icon: String,
    pub retries: String,
    pub retry_delay: String,
    /// Seconds; empty for the platform's task timeout.
    pub timeout: String,
    pub params: Vec<ParamDraft>,
    /// Runs on the embedded engine.
    pub local: bool,
    pub program: String,
    /// One argument a line.
    pub local_args: String,
    /// Runs as a step on the tenant's EMR cluster.
    pub emr: bool,
    pub jar: String,
    /// One argument a line.
    pub emr_args: String,
    pub action_on_failure: String,
    /// The `row` of the next parameter added.
    next_row: u64,
}

/// A new component's form: the defaults a catalog entry reads with, and
/// the usual EMR step should it run on EMR.
impl Default for Draft {
    fn default() -> Self {
        Self {
            key: String::new(),
            name: String::new(),
            category: String::new(),
            description: String::new(),
            icon: String::new(),
            retries: "0".into(),
            retry_delay: "5".into(),
            timeout: String::new(),
            params: Vec::new(),
            local: false,
            program: String::new(),
            local_args: String::new(),
            emr: false,
            jar: "command-runner.jar".into(),
            emr_args: String::new(),
            action_on_failure: EMR_ACTIONS[0].into(),
            next_row: 0,
        }
    }
}

impl Draft {
    /// The form showing `c`.
    pub fn of(c: &ComponentType) -> Self {
        let params: Vec<ParamDraft> = c
            .params
            .iter()
            .zip(0..)
            .map(|(spec, row)| ParamDraft::of(row, spec))
            .collect();
        let blank = Self::default();
        Self {
            key: c.key.to_string(),
            name: c.name.clone(),
            category: c.category.clone(),
            description: c.description.clone(),
            icon: c.icon.clone(),
            retries: c.retries.to_string(),
            retry_delay: c.retry_delay_seconds.to_string(),
            timeout: text_or_blank(c.timeout_seconds.as_ref()),
            next_row: params.len() as u64,
            params,
            local: c.local.is_some(),
            program: c
                .local
                .as_ref()
                .map(|l| l.program.clone())
                .unwrap_or_default(),
            local_args: c
                .local
                .as_ref()
                .map(|l| l.args.join("\n"))
                .unwrap_or_default(),
            emr: c.emr.is_some(),
            jar: c.emr.as_ref().map_or(blank.jar, |e| e.jar.clone()),
            emr_args: c
                .emr
                .as_ref()
                .map(|e| e.args.join("\n"))
                .unwrap_or_default(),
            action_on_failure: c
                .emr
                .as_ref()
                .map_or(blank.action_on_failure, |e| e.action_on_failure.clone()),
        }
    }

    /// Shows `c`, its rows numbered after every row so far, so that a keyed
    /// list never takes a new row for an old one.
    pub fn load(&mut self, c: &ComponentType) {
        let first = self.next_row;
        *self = Self::of(c);
        for p in &mut self.params {
            p.row += first;
        }
        self.next_row += first;
    }

    /// Empties the form for a new component (rows numbered on).
    pub fn clear(&mut self) {
        let next_row = self.next_row;
        *self = Self {
            next_row,
            ..Self::default()
        };
    }

    pub fn add_param(&mut self) {
        self.params.push(ParamDraft::blank(self.next_row));
        self.next_row += 1;
    }

    pub fn remove_param(&mut self, row: u64) {
        self.params.retain(|p| p.row != row);
    }

    /// Moves `row` one place up or down, when there is a place to go.
    pub fn move_param(&mut self, row: u64, up: bool) {
        let Some(i) = self.index(row) else { return };
        let j = if up {
            i.checked_sub(1)
        } else {
            Some(i + 1).filter(|j| *j < self.params.len())
        };
        if let Some(j) = j {
            self.params.swap(i, j);
        }
    }

    /// Where `row` is in the list (its `params[i]`).
    pub fn index(&self, row: u64) -> Option<usize> {
        self.params.iter().position(|p| p.row == row)
    }

    pub fn param(&self, row: u64) -> Option<&ParamDraft> {
        self.params.iter().find(|p| p.row == row)
    }

    pub fn param_mut(&mut self, row: u64) -> Option<&mut ParamDraft> {
        self.params.iter_mut().find(|p| p.row == row)
    }

    /// The entry the form makes, and the form's own problems: text where a
    /// number belongs (the entry then leaves it out, or takes its default).
    pub fn component(&self) -> (ComponentType, Vec<FieldError>) {
        let mut errors = Vec::new();
        let retries = parsed(
            &self.retries,
            "retries".into(),
            "retries are a whole number from 0 to 10",
            &mut errors,
        )
        .unwrap_or(0);
        let retry_delay_seconds = finite(
            &self.retry_delay,
            "retry_delay_seconds".into(),
            "the retry delay is a number of seconds",
            &mut errors,
        )
        .unwrap_or(5.0);
        let timeout_seconds = finite(
            &self.timeout,
            "timeout_seconds".into(),
            "a timeout is a number of seconds, or empty for the platform's",
            &mut errors,
        );
        let params = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| p.spec(&format!("params[{i}]"), &mut errors))
            .collect();
        let component = ComponentType {
            key: ComponentKey::from(self.key.as_str()),
            name: self.name.clone(),
            category: self.category.clone(),
            description: self.description.clone(),
            icon: self.icon.trim().to_owned(),
            params,
            local: self.local.then(|| LocalExec {
                program: self.program.clone(),
                args: lines(&self.local_args),
            }),
            emr: self.emr.then(|| EmrStepTemplate {
                jar: self.jar.clone(),
                args: lines(&self.emr_args),
                action_on_failure: self.action_on_failure.trim().to_owned(),
            }),
            retries,
            retry_delay_seconds,
            timeout_seconds,
        };
        (component, errors)
    }

    /// Every problem of the form: its own, then the validator's, in the
    /// server's words. `saved` is the key of the entry being edited, which
    /// a replacement cannot change.
    pub fn problems(&self, saved: Option<&str>) -> Vec<FieldError> {
        let (component, mut errors) = self.component();
        if let Some(saved) = saved.filter(|k| *k != self.key) {
            errors.push(FieldError::new(
                "key",
                "mismatch",
                format!("a saved component keeps its key `{saved}`"),
            ));
        }
        errors.extend(validate_component(&component));
        errors
    }

    /// The fields the form shows problems under; a problem of any other
    /// field is listed above the form.
    pub fn places(&self) -> BTreeSet<String> {
        let mut places: BTreeSet<String> = TOP_FIELDS.iter().map(|f| f.to_string()).collect_set();
        for (i, p) in self.params.iter().enumerate() {
            let common = ["name", "label", "type", "required", "default", "help"];
            for field in common.iter().chain(p.constraint_fields()) {
                places.insert(format!("params[{i}].{field}"));
            }
        }
        if self.local {
            places.extend(["local.program", "local.args"].map(str::to_owned));
        }
        if self.emr {
            places.extend(["emr.jar", "emr.args", "emr.action_on_failure"].map(str::to_owned));
        }
        places
    }
}

/// One argument (or value) a line; empty lines are left out.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// `text`, unless it is blank.
fn non_blank(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

fn text_or_blank<T: ToString>(value: Option<&T>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

/// `text` read as a `T`: `None` when blank, and when it does not read, with
/// `message` as a problem of `field`.
fn parsed<T: FromStr>(
    text: &str,
    field: String,
    message: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let value = text.parse().ok();
    if value.is_none() {
        errors.push(FieldError::new(field, "type", message));
    }
    value
}

/// As [`parsed`], for a number that must be finite (JSON has no other).
fn finite(text: &str, field: String, message: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    match parsed::<f64>(text, field.clone(), message, errors) {
        Some(n) if !n.is_finite() => {
            errors.push(FieldError::new(field, "type", message));
            None
        }
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn every_builtin_entry_reads_back_from_its_form_unchanged() {
        for c in crate::catalog::builtin() {
            let draft = Draft::of(&c);
            let (made, errors) = draft.component();
            assert_eq!(made, c, "{}", c.key);
            assert!(errors.is_empty(), "{}: {errors:?}", c.key);
            assert!(draft.problems(Some(c.key.as_str())).is_empty(), "{}", c.key);
        }
    }

    #[test]
    fn a_new_form_names_what_it_lacks_in_the_validators_words() {
        let draft = Draft::default();
        let problems = draft.problems(None);
        assert_eq!(fields(&problems), ["key", "name", "category"]);
        assert_eq!(problems[1].message, "`name` is required");
        let (made, _) = draft.component();
        assert_eq!((made.retries, made.retry_delay_seconds), (0, 5.0));
        assert_eq!(
            (made.local, made.emr, made.timeout_seconds),
            (None, None, None)
        );
    }

    fn echo() -> Draft {
        let mut d = Draft {
            key: "e2e.echo".into(),
            name: "Echo".into(),
            category: "Testing".into(),
            local: true,
            program: "echo".into(),
            local_args: "--message={message}\n\n{count}\n".into(),
            ..Draft::default()
        };
        d.add_param();
        d.params[0].name = "message".into();
        d.params[0].label = "Message".into();
        d.params[0].pattern = "[a-z ]+".into();
        d.params[0].default = "hello world".into();
        d.add_param();
        d.params[1].name = "count".into();
        d.params[1].kind = "integer".into();
        d.params[1].min = "1".into();
        d.params[1].default = "3".into();
        d
    }

    #[test]
    fn the_form_makes_typed_parameters_and_one_argument_a_line() {
        let (made, errors) = echo().component();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            serde_json::to_value(&made).unwrap(),
            json!({
                "key": "e2e.echo", "name": "Echo", "category": "Testing",
                "description": "", "icon": "",
                "params": [
                    { "name": "message", "label": "Message", "type": "string",
                      "pattern": "[a-z ]+", "required": false, "default": "hello world" },
                    { "name": "count", "label": "", "type": "integer", "min": 1,
                      "required": false, "default": 3 }
                ],
                "local": { "program": "echo", "args": ["--message={message}", "{count}"] },
                "retries": 0, "retry_delay_seconds": 5.0
            })
        );
        assert!(echo().problems(None).is_empty());
    }

    #[test]
    fn a_default_against_its_constraints_is_named_under_that_row() {
        let mut d = echo();
        d.params[0].default = "Hello!".into();
        d.params[1].default = "lots".into();
        let problems = d.problems(None);
        assert_eq!(
            fields(&problems),
            ["params[0].default", "params[1].default"]
        );
        assert_eq!(problems[0].code, "pattern");
        assert_eq!(
            problems[0].message,
            "`Message` must match the pattern [a-z ]+"
        );
        assert_eq!(problems[1].code, "type");
        // Moving the rows moves the problems with them.
        let row = d.params[1].row;
        d.move_param(row, true);
        assert_eq!(
            fields(&d.problems(None)),
            ["params[0].default", "params[1].default"]
        );
        assert_eq!(d.problems(None)[0].code, "type");
    }

    #[test]
    fn text_where_a_number_belongs_is_the_forms_own_problem() {
        let mut d = echo();
        d.retries = "a few".into();
        d.timeout = "soon".into();
        d.params[0].max_length = "ten".into();
        d.params[1].min = "1.5".into();
        let problems = d.problems(None);
        assert_eq!(
            fields(&problems),
            [
                "retries",
                "timeout_seconds",
                "params[0].max_length",
                "params[1].min"
            ]
        );
        let (made, _) = d.component();
        assert_eq!((made.retries, made.timeout_seconds), (0, None));
        d.retry_delay = "inf".into();
        assert!(fields(&d.problems(None)).contains(&"retry_delay_seconds"));
    }

    #[test]
    fn arguments_naming_no_parameter_are_named_where_they_are_written() {
        let mut d = echo();
        d.local_args = "{msg}".into();
        let problems = d.problems(None);
        assert_eq!(fields(&problems), ["local.args"]);
        assert!(d.places().contains("local.args"));
        // Off, its place goes; the validator no longer sees it either.
        d.local = false;
        assert!(d.problems(None).is_empty());
        assert!(!d.places().contains("local.args"));
    }

    #[test]
    fn a_row_shows_the_constraints_of_its_type_only() {
        let mut d = echo();
        let places = d.places();
        assert!(places.contains("params[0].pattern"));
        assert!(!places.contains("params[0].min"));
        assert!(places.contains("params[1].min"));
        d.params[0].kind = "enum".into();
        let (made, _) = d.component();
        assert_eq!(made.params[0].kind, ParamKind::Enum { values: vec![] });
        assert_eq!(
            fields(&d.problems(None)),
            ["params[0].values", "params[0].default"]
        );
        assert!(d.places().contains("params[0].values"));
        d.params[0].values = "hello world\nbye\n".into();
        assert!(d.problems(None).is_empty());
    }

    #[test]
    fn rows_move_and_go_and_keep_their_numbers_across_loads() {
        let mut d = echo();
        let (first, second) = (d.params[0].row, d.params[1].row);
        d.move_param(first, true);
        assert_eq!(d.index(first), Some(0), "the first row stays first");
        d.move_param(first, false);
        assert_eq!(d.index(first), Some(1));
        d.move_param(first, false);
        assert_eq!(d.index(first), Some(1), "the last row stays last");
        d.remove_param(second);
        assert_eq!(d.params.len(), 1);
        let (made, _) = echo().component();
        d.load(&made);
        assert!(d.params.iter().all(|p| p.row > second));
        d.clear();
        d.add_param();
        assert!(d.params[0].row > second);
        assert!(d.key.is_empty());
    }

    #[test]
    fn a_saved_entry_keeps_its_key() {
        let d = echo();
        assert!(d.problems(Some("e2e.echo")).is_empty());
        let problems = d.problems(Some("e2e.other"));
        assert_eq!(fields(&problems), ["key"]);
        assert_eq!(problems[0].code, "mismatch");
    }

    #[test]
    fn a_problem_without_a_place_on_the_form_is_listed_above_it() {
        let d = echo();
        let places = d.places();
        for field in ["key", "params[1].default", "local.program"] {
            assert!(places.contains(field), "{field}");
        }
        for field in ["", "params[2].name", "emr.args", "params[0].values"] {
            assert!(!places.contains(field), "{field}");
        }
    }
}

//! The built-in templates every tenant's gallery starts with: definition
//! files (`server/templates/*.yaml`, the format `…/definition` exports and
//! `…/import` reads) carried in the binary, made from the data components
//! and runnable on the demo tenant's sample files as they are.

use app::api::processes::{Definition, DEFINITION_FORMAT};
use app::api::templates::Template;
use std::sync::LazyLock;

const FILES: &[(&str, &str)] = &[
    (
        "check-a-file",
        include_str!("../templates/check-a-file.yaml"),
    ),
    (
        "convert-csv-to-json-lines",
        include_str!("../templates/convert-csv-to-json-lines.yaml"),
    ),
    (
        "join-two-files",
        include_str!("../templates/join-two-files.yaml"),
    ),
];

/// The prefix of the built-in templates' ids.
pub const BUILTIN: &str = "builtin-";

static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(stem, text)| {
            // Checked by the unit tests below: a bad file fails the build's tests.
            let definition: Definition = serde_yaml_ng::from_str(text)
                .unwrap_or_else(|e| panic!("built-in template {stem}: {e}"));
            assert_eq!(definition.format, DEFINITION_FORMAT, "{stem}");
            Template {
                id: format!("{BUILTIN}{stem}"),
                name: definition.name,
                description: definition.description,
                builtin: true,
                graph: definition.graph,
                created_by: None,
                created_at: None,
            }
        })
        .collect()
});

/// The built-in templates, in gallery order.
pub fn builtin() -> &'static [Template] {
    &TEMPLATES
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::validate::{validate_graph, Limits};

    #[test]
    fn every_builtin_template_is_a_valid_process_of_the_builtin_catalog() {
        let catalog = app::catalog::builtin();
        assert_eq!(builtin().len(), FILES.len());
        for template in builtin() {
            let problems = validate_graph(&template.graph, &catalog, &Limits::default());
            assert_eq!(problems, vec![], "{}", template.name);
            assert!(
                !template.graph.params.is_empty(),
                "{} asks for its files",
                template.name
            );
            for param in &template.graph.params {
                assert!(
                    param.default.is_some(),
                    "{}: {} runs as it is",
                    template.name,
                    param.name
                );
            }
            app::types::dag::compile(&template.graph).expect("compiles");
        }
    }
}

//! The problems of the whole graph, re-checked when its structure changes;
//! a click on one selects its node.

use crate::api::FieldError;
use crate::editor::{Action, Editor, Outcome};
use crate::types::component::ComponentType;
use crate::types::graph::Position;
use crate::validate::{validate_graph, Limits};
use leptos::prelude::*;

/// The graph's problems against `catalog`. Moving nodes changes nothing
/// validation looks at; only re-validate when something else changed.
pub(super) fn problems_of(
    editor: RwSignal<Editor>,
    catalog: StoredValue<Vec<ComponentType>>,
) -> Memo<Vec<FieldError>> {
    let structure = Memo::new(move |_| {
        editor.with(|e| {
            let mut g = e.graph.clone();
            for n in &mut g.nodes {
                n.position = Position::default();
            }
            g
        })
    });
    Memo::new(move |_| {
        structure.with(|g| catalog.with_value(|c| validate_graph(g, c, &Limits::default())))
    })
}

/// What a problem belongs to, as its line starts: a node, or the
/// process's parameter declarations.
fn where_of(problem: &FieldError) -> String {
    match &problem.node {
        Some(n) => format!("{n}: "),
        None if problem.field == "params" || problem.field.starts_with("params[") => {
            "Parameters: ".to_owned()
        }
        None => String::new(),
    }
}

#[component]
pub(super) fn Problems(
    problems: Memo<Vec<FieldError>>,
    dispatch: Callback<Action, Outcome>,
) -> impl IntoView {
    move || {
        let list = problems.get();
        if list.is_empty() {
            return view! { <section class="panel" data-testid="problems"><p class="ok">"No problems."</p></section> }.into_any();
        }
        view! {
            <section class="panel" data-testid="problems">
                <h2>{format!("Problems ({})", list.len())}</h2>
                <ul>
                    {list.into_iter().map(|p| {
                        let node = p.node.clone();
                        view! {
                            <li data-testid="problem">
                                <button class="link" on:click=move |_| {
                                    if let Some(id) = node.clone() {
                                        dispatch.run(Action::SelectNode { id, additive: false });
                                    }
                                }>
                                    {where_of(&p)}{p.message.clone()}
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        }
        .into_any()
    }
}

//! The live canvas's keyboard: shortcuts on the canvas, and Enter or Space on
//! a focused node to select it.

use super::surface::Surface;
use crate::editor::{Action, Editor};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

/// The action `key` stands for on the canvas, if any; `command` is Ctrl or ⌘.
fn shortcut(key: &str, command: bool, shift: bool, editor: &Editor) -> Option<Action> {
    let arrow = |dx: f64, dy: f64| {
        let node = editor.selection.nodes.iter().next().cloned()?;
        Some(Action::MoveBy { node, dx, dy })
    };
    match key {
        "Delete" | "Backspace" => Some(Action::DeleteSelection),
        "z" | "Z" if command && shift => Some(Action::Redo),
        "z" if command => Some(Action::Undo),
        "y" if command => Some(Action::Redo),
        "c" if command => Some(Action::Copy),
        "v" if command => Some(Action::Paste { dx: 24.0, dy: 24.0 }),
        "a" if command => Some(Action::SelectAll),
        "Escape" => Some(Action::ClearSelection),
        "ArrowLeft" => arrow(-10.0, 0.0),
        "ArrowRight" => arrow(10.0, 0.0),
        "ArrowUp" => arrow(0.0, -10.0),
        "ArrowDown" => arrow(0.0, 10.0),
        _ => None,
    }
}

impl Surface {
    /// A shortcut on the canvas; after a delete the canvas keeps the focus.
    pub fn key(self, ev: KeyboardEvent) {
        let command = ev.ctrl_key() || ev.meta_key();
        let action = self
            .editor
            .with_untracked(|e| shortcut(&ev.key(), command, ev.shift_key(), e));
        let Some(action) = action else {
            return;
        };
        ev.prevent_default();
        let deleting = action == Action::DeleteSelection;
        self.dispatch.run(action);
        // The focused node may be gone; keep the keyboard on the canvas.
        if deleting {
            if let Some(el) = self.canvas.get_untracked() {
                let _ = el.focus();
            }
        }
    }

    /// Enter or Space on a focused node selects it (with Shift, toggles it).
    pub fn node_key(self, id: &str, ev: KeyboardEvent) {
        if ev.key() == "Enter" || ev.key() == " " {
            ev.prevent_default();
            let additive = ev.shift_key();
            self.dispatch.run(Action::SelectNode {
                id: id.to_owned(),
                additive,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::graph::{Node, Position, ProcessGraph};

    fn editor(selected: &[&str]) -> Editor {
        let node = |id: &str| Node {
            id: id.into(),
            component: "test".into(),
            label: String::new(),
            params: Default::default(),
            position: Position::default(),
        };
        let mut editor = Editor::new(ProcessGraph {
            nodes: vec![node("a"), node("b")],
            ..Default::default()
        });
        for id in selected {
            let (id, additive) = (id.to_string(), true);
            editor.apply(Action::SelectNode { id, additive });
        }
        editor
    }

    #[test]
    fn command_keys_edit_and_plain_letters_do_nothing() {
        let e = editor(&[]);
        assert_eq!(shortcut("z", true, false, &e), Some(Action::Undo));
        assert_eq!(shortcut("Z", true, true, &e), Some(Action::Redo));
        assert_eq!(shortcut("y", true, false, &e), Some(Action::Redo));
        assert_eq!(shortcut("a", true, false, &e), Some(Action::SelectAll));
        assert_eq!(
            shortcut("Backspace", false, false, &e),
            Some(Action::DeleteSelection)
        );
        assert_eq!(
            shortcut("Escape", false, false, &e),
            Some(Action::ClearSelection)
        );
        assert_eq!(shortcut("z", false, false, &e), None);
        assert_eq!(shortcut("c", false, false, &e), None);
    }

    #[test]
    fn arrows_move_the_first_selected_node_only_when_one_is_selected() {
        assert_eq!(shortcut("ArrowLeft", false, false, &editor(&[])), None);
        let e = editor(&["b", "a"]);
        let moved = |dx, dy| {
            Some(Action::MoveBy {
                node: "a".into(),
                dx,
                dy,
            })
        };
        assert_eq!(shortcut("ArrowLeft", false, false, &e), moved(-10.0, 0.0));
        assert_eq!(shortcut("ArrowDown", false, false, &e), moved(0.0, 10.0));
    }
}

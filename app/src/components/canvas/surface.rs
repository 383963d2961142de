//! What every part of the live canvas shares (the model, the way to change it,
//! the element, the gesture under way), and the events that need no gesture.

use super::gesture::Gesture;
use crate::editor::{Action, Editor, Outcome, NODE_HEIGHT, NODE_WIDTH};
use crate::types::graph::Position;
use crate::types::ComponentKey;
use leptos::ev::{PointerEvent, WheelEvent};
use leptos::html::Div;
use leptos::prelude::*;

/// Handles only, so every event handler can copy it.
#[derive(Clone, Copy)]
pub(super) struct Surface {
    pub editor: RwSignal<Editor>,
    pub dispatch: Callback<Action, Outcome>,
    pub canvas: NodeRef<Div>,
    pub gesture: RwSignal<Gesture>,
}

impl Surface {
    /// Where the pointer is, relative to the canvas element.
    pub fn local_point(self, x: i32, y: i32) -> (f64, f64) {
        match self.canvas.get_untracked() {
            Some(el) => {
                let r = el.get_bounding_client_rect();
                (x as f64 - r.left(), y as f64 - r.top())
            }
            None => (x as f64, y as f64),
        }
    }

    /// Keeps the pointer's moves and release coming to the canvas.
    pub fn capture(self, ev: &PointerEvent) {
        if let Some(el) = self.canvas.get_untracked() {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
    }

    /// The wheel zooms about the pointer.
    pub fn wheel(self, ev: WheelEvent) {
        ev.prevent_default();
        let at = self.local_point(ev.client_x(), ev.client_y());
        let factor = if ev.delta_y() < 0.0 { 1.1 } else { 1.0 / 1.1 };
        self.dispatch.run(Action::Zoom {
            factor,
            x: at.0,
            y: at.1,
        });
    }

    /// A palette item dropped on the canvas becomes a node where it was
    /// dropped; the listener goes with the canvas.
    pub fn accept_palette_drops(self, palette_drag: RwSignal<Option<ComponentKey>>) {
        let listener = window_event_listener(leptos::ev::pointerup, move |ev| {
            let Some(component) = palette_drag.get_untracked() else {
                return;
            };
            palette_drag.set(None);
            let Some(el) = self.canvas.get_untracked() else {
                return;
            };
            let r = el.get_bounding_client_rect();
            let (x, y) = (ev.client_x() as f64, ev.client_y() as f64);
            if x < r.left() || x > r.right() || y < r.top() || y > r.bottom() {
                return;
            }
            let (cx, cy) = self
                .editor
                .with_untracked(|e| e.viewport.to_canvas(x - r.left(), y - r.top()));
            self.dispatch.run(Action::AddNode {
                component,
                at: Position {
                    x: cx - NODE_WIDTH / 2.0,
                    y: cy - NODE_HEIGHT / 2.0,
                },
                params: Default::default(),
            });
        });
        on_cleanup(move || listener.remove());
    }
}

//! A gesture under way: each pointer move advances it, and the release turns
//! it into editor actions.

use super::gesture::Gesture;
use super::surface::Surface;
use crate::editor::{Action, Rect};
use leptos::ev::PointerEvent;
use leptos::prelude::*;

impl Surface {
    /// A drag moves its node, a pan the view, the other gestures follow along.
    pub fn pointer_move(self, ev: PointerEvent) {
        let at = self.local_point(ev.client_x(), ev.client_y());
        let zoom = self.editor.with_untracked(|e| e.viewport.zoom);
        let (dispatch, gesture) = (self.dispatch, self.gesture);
        match gesture.get_untracked() {
            Gesture::Idle => {}
            Gesture::MoveNode { id, last, .. } => {
                dispatch.run(Action::MoveBy {
                    node: id.clone(),
                    dx: (at.0 - last.0) / zoom,
                    dy: (at.1 - last.1) / zoom,
                });
                gesture.set(Gesture::MoveNode {
                    id,
                    last: at,
                    moved: true,
                });
            }
            Gesture::Pan { last, .. } => {
                dispatch.run(Action::Pan {
                    dx: at.0 - last.0,
                    dy: at.1 - last.1,
                });
                gesture.set(Gesture::Pan {
                    last: at,
                    moved: true,
                });
            }
            Gesture::Connect { from, .. } => gesture.set(Gesture::Connect { from, at }),
            Gesture::Rubber { start, .. } => gesture.set(Gesture::Rubber { start, now: at }),
        }
    }

    /// A press without a move selects (a node) or clears (the background);
    /// an edge ends on the node under the pointer; a rectangle selects.
    pub fn release(self, ev: PointerEvent) {
        let dispatch = self.dispatch;
        let g = self.gesture.get_untracked();
        self.gesture.set(Gesture::Idle);
        match g {
            Gesture::Idle => {}
            Gesture::MoveNode { id, moved, .. } => {
                dispatch.run(Action::EndMove);
                if !moved {
                    let additive = ev.shift_key();
                    dispatch.run(Action::SelectNode { id, additive });
                }
            }
            Gesture::Pan { moved, .. } => {
                if !moved {
                    dispatch.run(Action::ClearSelection);
                }
            }
            Gesture::Connect { from, .. } => {
                if let Some(to) = node_at(ev.client_x(), ev.client_y()) {
                    if to != from {
                        dispatch.run(Action::Connect { from, to });
                    }
                }
            }
            Gesture::Rubber { start, now } => {
                let (a, b) = self.editor.with_untracked(|e| {
                    (
                        e.viewport.to_canvas(start.0, start.1),
                        e.viewport.to_canvas(now.0, now.1),
                    )
                });
                let rect = Rect::spanning(a, b);
                dispatch.run(Action::SelectRect {
                    rect,
                    additive: true,
                });
            }
        }
    }
}

/// The id of the node under a screen point, if any.
fn node_at(x: i32, y: i32) -> Option<String> {
    let el = document().element_from_point(x as f32, y as f32)?;
    let node = el.closest("[data-node-id]").ok().flatten()?;
    node.get_attribute("data-node-id")
}

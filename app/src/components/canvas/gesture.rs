//! The pointer gestures of the live canvas — move a node, pan, draw an edge,
//! draw a selection rectangle — how each starts and how it is drawn under way.

use super::surface::Surface;
use crate::editor::{Action, Rect, NODE_HEIGHT, NODE_WIDTH};
use leptos::ev::PointerEvent;
use leptos::prelude::*;

/// A gesture in progress, in screen pixels relative to the canvas.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Gesture {
    Idle,
    MoveNode {
        id: String,
        last: (f64, f64),
        moved: bool,
    },
    Pan {
        last: (f64, f64),
        moved: bool,
    },
    Connect {
        from: String,
        at: (f64, f64),
    },
    Rubber {
        start: (f64, f64),
        now: (f64, f64),
    },
}

impl Surface {
    /// A press on the background pans, or with Shift draws a rectangle.
    pub fn press_background(self, ev: PointerEvent) {
        if ev.button() != 0 {
            return;
        }
        let at = self.local_point(ev.client_x(), ev.client_y());
        self.capture(&ev);
        self.gesture.set(if ev.shift_key() {
            Gesture::Rubber { start: at, now: at }
        } else {
            Gesture::Pan {
                last: at,
                moved: false,
            }
        });
    }

    /// A press on node `id` moves it; released without moving, it selects it.
    pub fn press_node(self, id: &str, ev: PointerEvent) {
        if ev.button() != 0 {
            return;
        }
        ev.stop_propagation();
        self.capture(&ev);
        self.dispatch.run(Action::BeginMove);
        let last = self.local_point(ev.client_x(), ev.client_y());
        self.gesture.set(Gesture::MoveNode {
            id: id.to_owned(),
            last,
            moved: false,
        });
    }

    /// A press on node `from`'s output port draws an edge from it.
    pub fn press_port(self, from: &str, ev: PointerEvent) {
        ev.stop_propagation();
        self.capture(&ev);
        let at = self.local_point(ev.client_x(), ev.client_y());
        let from = from.to_owned();
        self.gesture.set(Gesture::Connect { from, at });
    }

    /// The edge being drawn and the selection rectangle, in screen pixels.
    pub fn overlay(self) -> impl IntoView {
        let editor = self.editor;
        move || match self.gesture.get() {
            Gesture::Connect { from, at } => editor.with(|e| {
                e.graph.node(&from).map(|n| {
                    let (x, y) = e
                        .viewport
                        .to_screen(n.position.x + NODE_WIDTH, n.position.y + NODE_HEIGHT / 2.0);
                    view! { <line class="drawing" x1=x y1=y x2=at.0 y2=at.1/> }.into_any()
                })
            }),
            Gesture::Rubber { start, now } => {
                let r = Rect::spanning(start, now);
                Some(view! { <rect class="rubber" x=r.x y=r.y width=r.width height=r.height data-testid="rubber-band"/> }.into_any())
            }
            _ => None,
        }
    }
}

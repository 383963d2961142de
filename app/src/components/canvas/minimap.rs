//! A small map of the whole graph in the canvas's corner with the visible part
//! outlined; a press on it centres the view there.

use super::gesture::Gesture;
use super::surface::Surface;
use crate::editor::{Action, Rect, NODE_HEIGHT, NODE_WIDTH};
use leptos::prelude::*;

/// What the minimap draws: the graph's bounds and each node's corner.
type MapShapes = Option<(Rect, Vec<(f64, f64)>)>;

pub(super) fn minimap(s: Surface) -> impl IntoView {
    let Surface {
        editor,
        dispatch,
        canvas,
        gesture,
    } = s;
    // The map's nodes: kept as they were while a drag or pan is under way,
    // redrawn when it ends, so a drag does not redraw a thousand small nodes.
    let shapes = Memo::new(move |previous: Option<&MapShapes>| {
        let busy = gesture.with(|g| matches!(g, Gesture::MoveNode { .. } | Gesture::Pan { .. }));
        if let (true, Some(previous)) = (busy, previous) {
            return previous.clone();
        }
        editor.with(|e| {
            let bounds = e.bounds()?;
            (e.graph.nodes.len() >= 2).then(|| {
                (
                    bounds,
                    e.graph
                        .nodes
                        .iter()
                        .map(|n| (n.position.x, n.position.y))
                        .collect(),
                )
            })
        })
    });
    move || {
        let (bounds, points) = shapes.get()?;
        let (width, height) = canvas
            .get_untracked()
            .map(|el| (el.client_width() as f64, el.client_height() as f64))
            .unwrap_or((800.0, 480.0));
        let (mw, mh) = (180.0, 110.0);
        let scale = (mw / bounds.width).min(mh / bounds.height);
        let map = move |x: f64, y: f64| ((x - bounds.x) * scale, (y - bounds.y) * scale);
        // The outline of what the canvas shows follows every pan and zoom.
        let view_rect = move || {
            let v = editor.with(|e| e.viewport);
            let (vx0, vy0) = v.to_canvas(0.0, 0.0);
            let (vx1, vy1) = v.to_canvas(width, height);
            let (rx, ry) = map(vx0, vy0);
            (rx, ry, (vx1 - vx0) * scale, (vy1 - vy0) * scale)
        };
        let rects = points
            .into_iter()
            .map(|(x, y)| {
                let (x, y) = map(x, y);
                view! { <rect x=x y=y width=NODE_WIDTH * scale height=NODE_HEIGHT * scale/> }
            })
            .collect_view();
        let jump = move |ev: leptos::ev::PointerEvent| {
            ev.stop_propagation();
            let Some(el) = canvas.get_untracked() else {
                return;
            };
            let r = el.get_bounding_client_rect();
            // The map sits in the canvas's bottom-right corner, 8 px in.
            let left = r.right() - 8.0 - mw;
            let top = r.bottom() - 8.0 - mh;
            let cx = (ev.client_x() as f64 - left) / scale + bounds.x;
            let cy = (ev.client_y() as f64 - top) / scale + bounds.y;
            let (now_x, now_y, zoom) = editor.with_untracked(|e| {
                let (x, y) = e.viewport.to_canvas(width / 2.0, height / 2.0);
                (x, y, e.viewport.zoom)
            });
            dispatch.run(Action::Pan {
                dx: (now_x - cx) * zoom,
                dy: (now_y - cy) * zoom,
            });
        };
        Some(view! {
            <svg class="minimap" width=mw height=mh data-testid="minimap" on:pointerdown=jump aria-hidden="true">
                <g class="minimap-nodes">{rects}</g>
                <rect class="minimap-view" x=move || view_rect().0 y=move || view_rect().1 width=move || view_rect().2 height=move || view_rect().3/>
            </svg>
        })
    }
}

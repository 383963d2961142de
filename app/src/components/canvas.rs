//! The process canvas: an SVG drawing of a graph. In the editor it is live —
//! nodes move by dragging, edges are drawn from a node's output port to
//! another's input port, the background pans (or, with Shift, draws a
//! selection rectangle), the wheel zooms — and every gesture becomes an
//! [`Action`] on the editor model. In a run view it is read-only and colours
//! each node by its task state.

use crate::editor::{Action, Editor, Outcome, Rect, NODE_HEIGHT, NODE_WIDTH};
use crate::types::graph::Node;
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// What the minimap draws: the graph's bounds and each node's corner.
type MapShapes = Option<(Rect, Vec<(f64, f64)>)>;

/// A gesture in progress, in screen pixels relative to the canvas.
#[derive(Clone, Debug, PartialEq)]
enum Gesture {
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

/// Where the pointer is, relative to the canvas element.
fn local_point(canvas: &NodeRef<leptos::html::Div>, x: i32, y: i32) -> (f64, f64) {
    match canvas.get_untracked() {
        Some(el) => {
            let r = el.get_bounding_client_rect();
            (x as f64 - r.left(), y as f64 - r.top())
        }
        None => (x as f64, y as f64),
    }
}

/// The id of the node under a screen point, if any.
fn node_at(x: i32, y: i32) -> Option<String> {
    let el = document().element_from_point(x as f32, y as f32)?;
    let node = el.closest("[data-node-id]").ok().flatten()?;
    node.get_attribute("data-node-id")
}

fn edge_path(from: &Node, to: &Node) -> String {
    let (x1, y1) = (
        from.position.x + NODE_WIDTH,
        from.position.y + NODE_HEIGHT / 2.0,
    );
    let (x2, y2) = (to.position.x, to.position.y + NODE_HEIGHT / 2.0);
    let bend = ((x2 - x1).abs() / 2.0).max(40.0);
    format!(
        "M {x1} {y1} C {} {y1}, {} {y2}, {x2} {y2}",
        x1 + bend,
        x2 - bend
    )
}

fn title(node: &Node, names: &BTreeMap<String, String>) -> String {
    if node.label.trim().is_empty() {
        names
            .get(&node.component)
            .cloned()
            .unwrap_or_else(|| node.component.clone())
    } else {
        node.label.clone()
    }
}

/// Draws `graph` read-only; `states` colours nodes, `on_select` reports clicks.
#[component]
pub fn GraphView(
    #[prop(into)] graph: Signal<crate::types::graph::ProcessGraph>,
    #[prop(into)] states: Signal<BTreeMap<String, String>>,
    #[prop(into)] names: Signal<BTreeMap<String, String>>,
    #[prop(into)] selected: Signal<Option<String>>,
    on_select: Callback<String>,
) -> impl IntoView {
    let view_box = move || match graph.with(crate::editor::bounds) {
        Some(b) => format!(
            "{} {} {} {}",
            b.x - 20.0,
            b.y - 20.0,
            b.width + 40.0,
            b.height + 40.0
        ),
        None => "0 0 400 200".into(),
    };
    view! {
        <div class="canvas readonly" data-testid="run-canvas">
            <svg viewBox=view_box preserveAspectRatio="xMidYMid meet" role="img" aria-label="The version's graph">
                {move || {
                    let g = graph.get();
                    let by_id: BTreeMap<&str, &Node> = g.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
                    g.edges
                        .iter()
                        .filter_map(|e| Some((by_id.get(e.from.as_str())?, by_id.get(e.to.as_str())?, e)))
                        .map(|(f, t, e)| view! {
                            <path class="edge" d=edge_path(f, t) data-testid=format!("edge-{}-{}", e.from, e.to)/>
                        })
                        .collect_view()
                }}
                {move || {
                    let names = names.get();
                    let states = states.get();
                    graph
                        .get()
                        .nodes
                        .into_iter()
                        .map(|n| {
                            let state = states.get(&n.id).cloned().unwrap_or_else(|| "pending".into());
                            let id = n.id.clone();
                            let is_selected = selected.get().as_deref() == Some(n.id.as_str());
                            view! {
                                <g
                                    class=format!("node state-{state}")
                                    class:selected=is_selected
                                    transform=format!("translate({} {})", n.position.x, n.position.y)
                                    data-testid=format!("node-{}", n.id)
                                    data-state=state.clone()
                                    tabindex="0"
                                    role="button"
                                    aria-label=format!("{} ({state})", title(&n, &names))
                                    on:click=move |_| on_select.run(id.clone())
                                >
                                    <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8"/>
                                    <text x="12" y="26" class="node-title">{title(&n, &names)}</text>
                                    <text x="12" y="48" class="node-sub">{state.replace('_', " ")}</text>
                                </g>
                            }
                        })
                        .collect_view()
                }}
            </svg>
        </div>
    }
    .into_any()
}

/// The live editing canvas over `editor`; `dispatch` applies an action.
#[component]
pub fn EditCanvas(
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
    #[prop(into)] names: Signal<BTreeMap<String, String>>,
    /// Nodes that have problems, marked on the canvas.
    #[prop(into)]
    flagged: Signal<BTreeSet<String>>,
    /// The component being dragged from the palette, if one is.
    palette_drag: RwSignal<Option<String>>,
) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Div>::new();
    let gesture = RwSignal::new(Gesture::Idle);

    // A palette item dropped on the canvas becomes a node where it was dropped.
    let drop_listener = window_event_listener(leptos::ev::pointerup, move |ev| {
        let Some(component) = palette_drag.get_untracked() else {
            return;
        };
        palette_drag.set(None);
        let Some(el) = canvas.get_untracked() else {
            return;
        };
        let r = el.get_bounding_client_rect();
        let (x, y) = (ev.client_x() as f64, ev.client_y() as f64);
        if x < r.left() || x > r.right() || y < r.top() || y > r.bottom() {
            return;
        }
        let (cx, cy) = editor.with_untracked(|e| e.viewport.to_canvas(x - r.left(), y - r.top()));
        dispatch.run(Action::AddNode {
            component,
            at: crate::types::graph::Position {
                x: cx - NODE_WIDTH / 2.0,
                y: cy - NODE_HEIGHT / 2.0,
            },
            params: Default::default(),
        });
    });
    on_cleanup(move || drop_listener.remove());

    let capture = move |ev: &leptos::ev::PointerEvent| {
        if let Some(el) = canvas.get_untracked() {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
    };

    let on_background_down = move |ev: leptos::ev::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        let at = local_point(&canvas, ev.client_x(), ev.client_y());
        capture(&ev);
        gesture.set(if ev.shift_key() {
            Gesture::Rubber { start: at, now: at }
        } else {
            Gesture::Pan {
                last: at,
                moved: false,
            }
        });
    };

    let on_move = move |ev: leptos::ev::PointerEvent| {
        let at = local_point(&canvas, ev.client_x(), ev.client_y());
        let zoom = editor.with_untracked(|e| e.viewport.zoom);
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
    };

    let on_up = move |ev: leptos::ev::PointerEvent| {
        let g = gesture.get_untracked();
        gesture.set(Gesture::Idle);
        match g {
            Gesture::Idle => {}
            Gesture::MoveNode { id, moved, .. } => {
                dispatch.run(Action::EndMove);
                if !moved {
                    dispatch.run(Action::SelectNode {
                        id,
                        additive: ev.shift_key(),
                    });
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
                let (a, b) = editor.with_untracked(|e| {
                    (
                        e.viewport.to_canvas(start.0, start.1),
                        e.viewport.to_canvas(now.0, now.1),
                    )
                });
                dispatch.run(Action::SelectRect {
                    rect: Rect::spanning(a, b),
                    additive: true,
                });
            }
        }
    };

    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        ev.prevent_default();
        let at = local_point(&canvas, ev.client_x(), ev.client_y());
        let factor = if ev.delta_y() < 0.0 { 1.1 } else { 1.0 / 1.1 };
        dispatch.run(Action::Zoom {
            factor,
            x: at.0,
            y: at.1,
        });
    };

    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let command = ev.ctrl_key() || ev.meta_key();
        let key = ev.key();
        let first_selected =
            move || editor.with_untracked(|e| e.selection.nodes.iter().next().cloned());
        let arrow = |dx: f64, dy: f64| first_selected().map(|node| Action::MoveBy { node, dx, dy });
        let action = match key.as_str() {
            "Delete" | "Backspace" => Some(Action::DeleteSelection),
            "z" | "Z" if command && ev.shift_key() => Some(Action::Redo),
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
        };
        if let Some(action) = action {
            ev.prevent_default();
            let deleting = action == Action::DeleteSelection;
            dispatch.run(action);
            // The focused node may be gone; keep the keyboard on the canvas.
            if deleting {
                if let Some(el) = canvas.get_untracked() {
                    let _ = el.focus();
                }
            }
        }
    };

    let transform = move || {
        let v = editor.with(|e| e.viewport);
        format!("scale({}) translate({} {})", v.zoom, v.pan_x, v.pan_y)
    };

    // Nodes and edges are keyed by what they look like, so a change redraws
    // only what it changed (dragging one node of a thousand touches one); the
    // selection and problem marks follow their own memos.
    let selected_nodes = Memo::new(move |_| editor.with(|e| e.selection.nodes.clone()));
    let selected_edges = Memo::new(move |_| editor.with(|e| e.selection.edges.clone()));
    let flagged = Memo::new(move |_| flagged.get());

    let edge_looks = move || {
        editor.with(|e| {
            let by_id: BTreeMap<&str, &Node> =
                e.graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
            e.graph
                .edges
                .iter()
                .filter_map(|edge| {
                    let (f, t) = (by_id.get(edge.from.as_str())?, by_id.get(edge.to.as_str())?);
                    Some((edge.clone(), edge_path(f, t)))
                })
                .collect::<Vec<_>>()
        })
    };
    let edges = view! {
        <For each=edge_looks key=|look| look.clone() let:look>
            {
                let (edge, d) = look;
                let testid = format!("edge-{}-{}", edge.from, edge.to);
                let this = edge.clone();
                view! {
                    <g class="edge-group" class:selected=move || selected_edges.with(|s| s.contains(&this))>
                        <path class="edge-hit" d=d.clone()
                            on:pointerdown=move |ev: leptos::ev::PointerEvent| {
                                ev.stop_propagation();
                                dispatch.run(Action::SelectEdge { edge: edge.clone(), additive: ev.shift_key() });
                            }
                        />
                        <path class="edge" d=d data-testid=testid/>
                    </g>
                }
            }
        </For>
    };

    #[derive(Clone, PartialEq, Eq, Hash)]
    struct NodeLook {
        id: String,
        name: String,
        x: u64,
        y: u64,
    }
    let node_looks = move || {
        let names = names.get();
        editor.with(|e| {
            e.graph
                .nodes
                .iter()
                .map(|n| NodeLook {
                    id: n.id.clone(),
                    name: title(n, &names),
                    x: n.position.x.to_bits(),
                    y: n.position.y.to_bits(),
                })
                .collect::<Vec<_>>()
        })
    };
    let nodes = view! {
        <For each=node_looks key=|look| look.clone() let:look>
            {
                let NodeLook { id, name, x, y } = look;
                let (x, y) = (f64::from_bits(x), f64::from_bits(y));
                let id_for_port = id.clone();
                let id_for_key = id.clone();
                let id_for_sel = id.clone();
                let id_for_sel2 = id.clone();
                let id_for_flag = id.clone();
                let name_for_label = name.clone();
                view! {
                    <g
                        class="node"
                        class:selected=move || selected_nodes.with(|s| s.contains(&id_for_sel))
                        class:has-problem=move || flagged.with(|f| f.contains(&id_for_flag))
                        transform=format!("translate({x} {y})")
                        data-node-id=id.clone()
                        data-testid=format!("node-{id}")
                        tabindex="0"
                        role="button"
                        aria-label=format!("{name_for_label} ({id})")
                        aria-pressed=move || selected_nodes.with(|s| s.contains(&id_for_sel2)).to_string()
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" || ev.key() == " " {
                                ev.prevent_default();
                                dispatch.run(Action::SelectNode { id: id_for_key.clone(), additive: ev.shift_key() });
                            }
                        }
                        on:pointerdown={
                            let id = id.clone();
                            move |ev: leptos::ev::PointerEvent| {
                                if ev.button() != 0 {
                                    return;
                                }
                                ev.stop_propagation();
                                capture(&ev);
                                dispatch.run(Action::BeginMove);
                                let at = local_point(&canvas, ev.client_x(), ev.client_y());
                                gesture.set(Gesture::MoveNode { id: id.clone(), last: at, moved: false });
                            }
                        }
                    >
                        <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8"/>
                        <text x="12" y="26" class="node-title">{name}</text>
                        <text x="12" y="48" class="node-sub">{id.clone()}</text>
                        <circle class="port in" cx="0" cy=NODE_HEIGHT / 2.0 r="7" data-testid=format!("port-in-{id}")/>
                        <circle
                            class="port out"
                            cx=NODE_WIDTH
                            cy=NODE_HEIGHT / 2.0
                            r="7"
                            data-testid=format!("port-out-{id}")
                            on:pointerdown=move |ev: leptos::ev::PointerEvent| {
                                ev.stop_propagation();
                                capture(&ev);
                                let at = local_point(&canvas, ev.client_x(), ev.client_y());
                                gesture.set(Gesture::Connect { from: id_for_port.clone(), at });
                            }
                        />
                    </g>
                }
            }
        </For>
    };

    // The edge being drawn and the selection rectangle, in screen pixels.
    let overlay = move || match gesture.get() {
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
    };

    // A small map of the whole graph with the visible part outlined; a click
    // on it centres the view there.
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
    let minimap = move || {
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
    };

    view! {
        <div
            class="canvas"
            class:dropping=move || palette_drag.get().is_some()
            node_ref=canvas
            tabindex="0"
            role="application"
            aria-label="Process canvas: drag components here; Delete removes, Ctrl+Z undoes"
            data-testid="canvas"
            on:pointerdown=on_background_down
            on:pointermove=on_move
            on:pointerup=on_up
            on:wheel=on_wheel
            on:keydown=on_key
        >
            <svg>
                <g transform=transform>{edges}{nodes}</g>
                {overlay}
            </svg>
            {minimap}
        </div>
    }
    .into_any()
}

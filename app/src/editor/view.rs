//! Where the canvas is shown: the viewport, zoom, pan and fit to view.

use super::{Editor, Outcome, MAX_ZOOM, MIN_ZOOM, NODE_HEIGHT, NODE_WIDTH};
use crate::types::graph::{Node, ProcessGraph};

/// Which part of the canvas the screen shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    pub pan_x: f64,
    pub pan_y: f64,
    pub zoom: f64,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            pan_x: 0.0,
            pan_y: 0.0,
            zoom: 1.0,
        }
    }
}

impl Viewport {
    /// The canvas point shown at screen point (`x`, `y`).
    pub fn to_canvas(&self, x: f64, y: f64) -> (f64, f64) {
        (x / self.zoom - self.pan_x, y / self.zoom - self.pan_y)
    }

    /// The screen point showing canvas point (`x`, `y`).
    pub fn to_screen(&self, x: f64, y: f64) -> (f64, f64) {
        ((x + self.pan_x) * self.zoom, (y + self.pan_y) * self.zoom)
    }
}

/// A rectangle in canvas units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// The rectangle spanned by two corners in any order.
    pub fn spanning(a: (f64, f64), b: (f64, f64)) -> Self {
        Rect {
            x: a.0.min(b.0),
            y: a.1.min(b.1),
            width: (a.0 - b.0).abs(),
            height: (a.1 - b.1).abs(),
        }
    }

    pub(super) fn intersects(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }
}

pub(super) fn node_rect(node: &Node) -> Rect {
    Rect {
        x: node.position.x,
        y: node.position.y,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
    }
}

/// The rectangle holding every node of `graph`, if it has any.
pub fn bounds(graph: &ProcessGraph) -> Option<Rect> {
    let mut nodes = graph.nodes.iter().map(node_rect);
    let first = nodes.next()?;
    let (mut x0, mut y0) = (first.x, first.y);
    let (mut x1, mut y1) = (first.x + first.width, first.y + first.height);
    for r in nodes {
        x0 = x0.min(r.x);
        y0 = y0.min(r.y);
        x1 = x1.max(r.x + r.width);
        y1 = y1.max(r.y + r.height);
    }
    Some(Rect {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

impl Editor {
    /// The rectangle holding every node, if there are any.
    pub fn bounds(&self) -> Option<Rect> {
        bounds(&self.graph)
    }

    pub(super) fn zoom(&mut self, factor: f64, x: f64, y: f64) -> Outcome {
        let zoom = (self.viewport.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        if !factor.is_finite() || zoom == self.viewport.zoom {
            return Outcome::Unchanged;
        }
        let (cx, cy) = self.viewport.to_canvas(x, y);
        self.viewport.zoom = zoom;
        self.viewport.pan_x = x / zoom - cx;
        self.viewport.pan_y = y / zoom - cy;
        Outcome::Viewed
    }

    pub(super) fn pan(&mut self, dx: f64, dy: f64) -> Outcome {
        self.viewport.pan_x += dx / self.viewport.zoom;
        self.viewport.pan_y += dy / self.viewport.zoom;
        Outcome::Viewed
    }

    pub(super) fn fit_to_view(&mut self, width: f64, height: f64) -> Outcome {
        let Some(bounds) = self.bounds() else {
            self.viewport = Viewport::default();
            return Outcome::Viewed;
        };
        let margin = 40.0;
        let zoom = ((width - 2.0 * margin) / bounds.width)
            .min((height - 2.0 * margin) / bounds.height)
            .clamp(MIN_ZOOM, 1.0);
        self.viewport = Viewport {
            zoom,
            pan_x: (width / zoom - bounds.width) / 2.0 - bounds.x,
            pan_y: (height / zoom - bounds.height) / 2.0 - bounds.y,
        };
        Outcome::Viewed
    }
}

//! Runs per day as a stacked bar chart.

use crate::api::runs::RunDay;
use crate::components::time;
use crate::ordered::CollectOrdered;
use leptos::prelude::*;

/// `days` with the days of the range that had no runs, in order: from
/// `from` (or 30 days before `now`) to the day before `to` (or `now`'s).
pub(super) fn every_day(
    days: Vec<RunDay>,
    from: Option<&str>,
    to: Option<&str>,
    now: Option<f64>,
) -> Vec<RunDay> {
    const DAY: f64 = 86_400_000.0;
    let first = from
        .and_then(time::epoch_ms)
        .or_else(|| now.map(|n| n - 30.0 * DAY));
    let last = to.and_then(time::epoch_ms).map(|t| t - 1.0).or(now);
    let (Some(first), Some(last)) = (first, last) else {
        return days;
    };
    // A range too long to draw day by day keeps its days with runs.
    if last < first || last - first > 400.0 * DAY {
        return days;
    }
    let mut had: std::collections::BTreeMap<String, RunDay> =
        days.into_iter().map(|d| (d.day.clone(), d)).collect_map();
    let mut at = first;
    while at <= last {
        if let Some(day) = time::day_of(at) {
            had.entry(day.clone()).or_insert(RunDay {
                day,
                ..Default::default()
            });
        }
        at += DAY;
    }
    had.into_values().collect()
}

/// Runs per day as stacked bars (succeeded, failed, cancelled, not ended).
#[component]
pub(super) fn RunsChart(days: Vec<RunDay>) -> impl IntoView {
    if days
        .iter()
        .all(|d| d.succeeded + d.failed + d.cancelled + d.active == 0)
    {
        return view! { <p class="muted" data-testid="runs-chart-empty">"No runs in this range."</p> }
            .into_any();
    }
    let (bar, gap, height) = (14.0, 4.0, 80.0);
    let total = |d: &RunDay| d.succeeded + d.failed + d.cancelled + d.active;
    let top = days.iter().map(total).max().unwrap_or(1).max(1) as f64;
    let width = days.len() as f64 * (bar + gap);
    let label = format!(
        "Runs per day, {} to {}",
        days.first().map(|d| d.day.as_str()).unwrap_or_default(),
        days.last().map(|d| d.day.as_str()).unwrap_or_default()
    );
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = i as f64 * (bar + gap);
            let mut y = height;
            let parts = [
                ("succeeded", d.succeeded),
                ("failed", d.failed),
                ("cancelled", d.cancelled),
                ("running", d.active),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(class, n)| {
                let h = n as f64 / top * height;
                y -= h;
                view! { <rect class=format!("bar state-{class}") x=x y=y width=bar height=h/> }
            })
            .collect_view();
            let title = format!(
                "{}: {} succeeded, {} failed, {} cancelled, {} not ended",
                d.day, d.succeeded, d.failed, d.cancelled, d.active
            );
            view! { <g data-testid="runs-chart-day" data-day=d.day.clone()><title>{title}</title>{parts}</g> }
        })
        .collect_view();
    view! {
        <figure class="runs-chart" data-testid="runs-chart">
            <svg role="img" aria-label=label.clone() viewBox=format!("0 0 {width} {height}")
                width=width height=height>
                {bars}
            </svg>
            <figcaption class="muted">
                {label} " · "
                <span class="legend state-succeeded">"succeeded"</span> " "
                <span class="legend state-failed">"failed"</span> " "
                <span class="legend state-cancelled">"cancelled"</span> " "
                <span class="legend state-running">"not ended"</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_shows_every_day_of_the_range() {
        let ran = RunDay {
            day: "2026-11-29".into(),
            failed: 2,
            ..Default::default()
        };
        let days = every_day(
            vec![ran.clone()],
            Some("2026-11-28T00:00:00Z"),
            Some("2026-12-01T00:00:00Z"),
            None,
        );
        let names: Vec<&str> = days.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(names, ["2026-11-28", "2026-11-29", "2026-11-30"]);
        assert_eq!(days[1], ran);
        // No range known (no clock on the server): the days with runs.
        assert_eq!(every_day(vec![ran.clone()], None, None, None), vec![ran]);
    }
}

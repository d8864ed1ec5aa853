//! The HTML report's charts, drawn as SVG by plotters from the report
//! model alone.
//!
//! Each function returns one `<svg>` element as a string. Text is left to
//! the browser (`<text>` elements in a generic sans-serif family), so no
//! font file is read or embedded. A chart with nothing to show still
//! returns an `<svg>`, holding a line that says so, so the page always has
//! the same charts in the same places.
//!
//! Timeline points may cover several seconds on a long run (`span_s`), so
//! counts are divided by the span to plot rates per second.

use std::error::Error;
use std::io;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::model::{RunReport, TimelinePoint};

/// Width and height of every chart, in pixels.
const SIZE: (u32, u32) = (1180, 340);
const FONT: &str = "sans-serif";

const COMMITTED: RGBColor = RGBColor(46, 125, 50);
const REJECTED: RGBColor = RGBColor(229, 115, 115);
const CANCELLED: RGBColor = RGBColor(255, 183, 77);
const TARGET: RGBColor = RGBColor(33, 33, 33);
const BLUE: RGBColor = RGBColor(30, 136, 229);
const PURPLE: RGBColor = RGBColor(142, 36, 170);
const GRID: RGBColor = RGBColor(236, 236, 236);

type Drawn = Result<(), Box<dyn Error>>;

/// One count of a timeline point.
type Count = fn(&TimelinePoint) -> u64;

/// Draw on a fresh SVG canvas and return the document.
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn) -> io::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|e| e.into())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.into()));
        drawn.map_err(|e| io::Error::other(format!("cannot draw a chart: {e}")))?;
    }
    Ok(out)
}

/// A chart with a caption and a line saying there is nothing to draw.
fn empty(root: &DrawingArea<SVGBackend<'_>, Shift>, caption: &str, why: &str) -> Drawn {
    root.titled(caption, (FONT, 20))?;
    root.draw(&Text::new(
        why.to_owned(),
        (40, (SIZE.1 / 2) as i32),
        (FONT, 16).into_font().color(&RGBColor(97, 97, 97)),
    ))?;
    Ok(())
}

/// Per-second rate of a count over a point's span.
fn per_s(p: &TimelinePoint, n: u64) -> f64 {
    n as f64 / p.span_s.max(1) as f64
}

fn x_range(t: &[TimelinePoint]) -> std::ops::Range<f64> {
    0.0..t.last().map_or(1.0, |p| p.t_s as f64).max(1.0)
}

/// Committed, rejected and cancelled ops per second, stacked, with the
/// schedule's target rate as a line.
pub(crate) fn throughput(report: &RunReport) -> io::Result<String> {
    const CAPTION: &str = "Throughput: settled ops per second";
    let t = &report.timeline;
    svg(|root| {
        if t.is_empty() {
            return empty(
                root,
                CAPTION,
                "no timeline: the run ended within its first second",
            );
        }
        let layers: [(&str, RGBColor, Count); 3] = [
            ("committed", COMMITTED, |p| p.committed),
            ("rejected", REJECTED, |p| p.rejected),
            ("cancelled", CANCELLED, |p| p.cancelled),
        ];
        let top = |p: &TimelinePoint, upto: usize| -> f64 {
            layers[..=upto].iter().map(|(_, _, f)| per_s(p, f(p))).sum()
        };
        let peak_target = t.iter().filter_map(|p| p.target_rate).fold(0.0, f64::max);
        let y_max = t
            .iter()
            .map(|p| top(p, 2))
            .fold(peak_target, f64::max)
            .max(1.0)
            * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(CAPTION, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range(t), 0.0..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .x_desc("run time (s)")
            .y_desc("ops/s")
            .label_style((FONT, 13))
            .draw()?;
        // Tallest layer first, so each lower one is drawn over it.
        for upto in (0..layers.len()).rev() {
            let (name, color, _) = layers[upto];
            chart
                .draw_series(
                    AreaSeries::new(
                        t.iter().map(|p| (p.t_s as f64, top(p, upto))),
                        0.0,
                        color.mix(0.85),
                    )
                    .border_style(color),
                )?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        if t.iter().any(|p| p.target_rate.is_some()) {
            chart
                .draw_series(LineSeries::new(
                    t.iter()
                        .filter_map(|p| Some((p.t_s as f64, p.target_rate?))),
                    TARGET.stroke_width(2),
                ))?
                .label("target rate")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], TARGET.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// The series legend, in the top right corner.
fn legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> Drawn
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(189, 189, 189))
        .draw()?;
    Ok(())
}

/// Execution and end-to-end p50 / p99 of each second, on a log scale.
pub(crate) fn latency(report: &RunReport) -> io::Result<String> {
    const CAPTION: &str = "Latency of the ops committed each second (µs, log scale)";
    let t = &report.timeline;
    type Pick = fn(&TimelinePoint) -> Option<u64>;
    let lines: [(&str, RGBColor, u32, Pick); 4] = [
        ("execution p50", BLUE, 1, |p| p.execution_p50_us),
        ("execution p99", BLUE, 3, |p| p.execution_p99_us),
        ("end to end p50", PURPLE, 1, |p| p.end_to_end_p50_us),
        ("end to end p99", PURPLE, 3, |p| p.end_to_end_p99_us),
    ];
    let max = lines
        .iter()
        .flat_map(|(_, _, _, f)| t.iter().filter_map(f))
        .max();
    svg(|root| {
        let Some(max) = max else {
            return empty(root, CAPTION, "no op committed: no latency to show");
        };
        let mut chart = ChartBuilder::on(root)
            .caption(CAPTION, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range(t), (1.0..(max as f64 * 2.0).max(10.0)).log_scale())?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .x_desc("run time (s)")
            .y_desc("µs")
            .label_style((FONT, 13))
            .draw()?;
        for (name, color, width, pick) in lines {
            chart
                .draw_series(LineSeries::new(
                    t.iter()
                        .filter_map(|p| Some((p.t_s as f64, pick(p)?.max(1) as f64))),
                    color.stroke_width(width),
                ))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 14, y)], color.stroke_width(width))
                });
        }
        legend(&mut chart)
    })
}

/// Ops in flight (left axis) and resident memory (right axis).
pub(crate) fn in_flight_and_memory(report: &RunReport) -> io::Result<String> {
    const CAPTION: &str = "In flight and memory";
    let t = &report.timeline;
    svg(|root| {
        if t.is_empty() {
            return empty(
                root,
                CAPTION,
                "no timeline: the run ended within its first second",
            );
        }
        let flight_max = t.iter().map(|p| p.in_flight).max().unwrap_or(0).max(1) as f64 * 1.1;
        let rss_max = t.iter().map(|p| p.rss_mb).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(CAPTION, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(x_range(t), 0.0..flight_max)?
            .set_secondary_coord(x_range(t), 0.0..rss_max);
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .x_desc("run time (s)")
            .y_desc("ops in flight")
            .label_style((FONT, 13))
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("RSS (MB)")
            .label_style((FONT, 13))
            .draw()?;
        chart
            .draw_series(LineSeries::new(
                t.iter().map(|p| (p.t_s as f64, p.in_flight as f64)),
                BLUE.stroke_width(2),
            ))?
            .label("in flight")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], BLUE.stroke_width(2)));
        chart
            .draw_secondary_series(LineSeries::new(
                t.iter().map(|p| (p.t_s as f64, p.rss_mb)),
                PURPLE.stroke_width(2),
            ))?
            .label("RSS (MB)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], PURPLE.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(189, 189, 189))
            .draw()?;
        Ok(())
    })
}

/// Committed, rejected and cancelled ops of each priority level, stacked.
pub(crate) fn by_priority(report: &RunReport) -> io::Result<String> {
    const CAPTION: &str = "Outcomes by priority";
    let levels: Vec<(&str, [u64; 3])> = report
        .operations
        .by_priority
        .iter()
        .map(|(name, c)| (name, [c.succeeded, c.rejected, c.cancelled]))
        .collect();
    svg(|root| {
        if levels.is_empty() {
            return empty(root, CAPTION, "no op was submitted");
        }
        let n = levels.len() as u32;
        let y_max = levels
            .iter()
            .map(|(_, c)| c.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1) as f64
            * 1.15;
        let names: Vec<String> = levels.iter().map(|(n, _)| n.to_string()).collect();
        let label = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(CAPTION, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            // An integer range includes its end: `0..n - 1` has n segments.
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .disable_x_mesh()
            .x_label_formatter(&label)
            .x_desc("priority level")
            .y_desc("ops")
            .label_style((FONT, 13))
            .draw()?;
        let outcomes = [
            ("committed", COMMITTED),
            ("rejected", REJECTED),
            ("cancelled", CANCELLED),
        ];
        for (k, (name, color)) in outcomes.into_iter().enumerate() {
            chart
                .draw_series(levels.iter().enumerate().map(|(i, (_, counts))| {
                    let below: u64 = counts[..k].iter().sum();
                    let i = i as u32;
                    let mut bar = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), below as f64),
                            (SegmentValue::Exact(i + 1), (below + counts[k]) as f64),
                        ],
                        color.filled(),
                    );
                    bar.set_margin(0, 0, 24, 24);
                    bar
                }))?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        legend(&mut chart)
    })
}

/// How many conflicts had each number of ops taking part.
pub(crate) fn conflict_sizes(report: &RunReport) -> io::Result<String> {
    const CAPTION: &str = "Conflict sizes: ops taking part per conflict";
    let sizes = &report.conflicts.by_size;
    svg(|root| {
        let (Some(first), Some(last)) = (sizes.first(), sizes.last()) else {
            return empty(root, CAPTION, "no conflict happened");
        };
        let y_max = sizes.iter().map(|s| s.conflicts).max().unwrap_or(0).max(1) as f64 * 1.15;
        let mut chart = ChartBuilder::on(root)
            .caption(CAPTION, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d((first.ops..last.ops).into_segmented(), 0.0..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .disable_x_mesh()
            .x_desc("ops in the conflict")
            .y_desc("conflicts")
            .label_style((FONT, 13))
            .draw()?;
        chart.draw_series(
            Histogram::vertical(&chart)
                .style(BLUE.filled())
                .margin(6)
                .data(sizes.iter().map(|s| (s.ops, s.conflicts as f64))),
        )?;
        Ok(())
    })
}

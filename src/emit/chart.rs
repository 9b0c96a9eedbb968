//! Inline SVG charts for the HTML report: pure functions from numbers to markup.
//!
//! No scripts, no external references, no `url()`: the page's
//! Content-Security-Policy (`default-src 'none'`) lets inline SVG elements
//! through as they are, offline or as a CI artifact. Each chart is a `<figure>`
//! holding the picture (`role="img"`, its `<title>` and `<desc>` named by
//! `aria-labelledby`) and its numbers as a table beside it, so a screen reader,
//! or a reader who cannot tell the colours apart, gets the same facts.
//!
//! Every text is escaped here. A label longer than [`LABEL_CHARS`] is cut with
//! "…" and keeps its full text in a `<title>` (the tooltip). Each bar carries
//! its value (`data-value`), and every length is the value over the chart's
//! scale times the plot's width, so the picture can be checked against the data.

use crate::format::one_line;
use std::fmt::{self, Write};

/// The drawing's width in SVG units; the page scales it to the column.
pub const WIDTH: f64 = 720.0;
/// Where bars start: the labels' column is left of it.
pub const PLOT_LEFT: f64 = 240.0;
/// Full scale: a bar as long as the chart's scale is this wide.
pub const PLOT_WIDTH: f64 = 330.0;
/// Characters of a label the picture shows before cutting it.
pub const LABEL_CHARS: usize = 36;
/// A chart of samples draws at most this many columns (each the mean of its samples).
pub const MAX_COLUMNS: usize = 120;

const BAR_HEIGHT: f64 = 14.0;
const ROW_HEIGHT: f64 = 20.0;
const GROUP_GAP: f64 = 8.0;
const TOP: f64 = 8.0;
const FONT: &str = r##"font-family="-apple-system, 'Segoe UI', Roboto, Arial, sans-serif" font-size="12" fill="#1d2330""##;

/// Markup this module built: every text in it is escaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure(String);

impl Figure {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a mark stands for; each has one colour in every chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// The whole a bar is measured against, drawn faint.
    Whole,
    /// A quantity before a change, or the larger total a part is taken from.
    Before,
    /// A quantity after a change, or the part that is gained.
    After,
    Critical,
    High,
    Medium,
    Low,
    Active,
    Idle,
    IdleInTransaction,
    /// The n-th of several like things (pools stacked in one bar).
    Series(usize),
}

impl Tone {
    /// Text drawn on the tone: dark on the light ones, white on the others.
    fn text_colour(self) -> &'static str {
        match self {
            Tone::Whole | Tone::Before | Tone::Idle => "#1d2330",
            _ => "#ffffff",
        }
    }

    fn colour(self) -> &'static str {
        const PALETTE: [&str; 6] = [
            "#2456a6", "#1e6b3a", "#7b4fa0", "#a15c00", "#2a8a8a", "#b3261e",
        ];
        match self {
            Tone::Whole => "#e8ecf2",
            Tone::Before => "#9aa5b5",
            Tone::After => "#1e6b3a",
            Tone::Critical => "#7a0b0b",
            Tone::High => "#b3261e",
            Tone::Medium => "#a15c00",
            Tone::Low => "#44617b",
            Tone::Active => "#2456a6",
            Tone::Idle => "#b8c2d0",
            Tone::IdleInTransaction => "#d9822b",
            Tone::Series(n) => PALETTE[n % PALETTE.len()],
        }
    }
}

/// One bar: a value, the words for it, its colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the bar measures (`saved`, `before`); the data table's column.
    pub series: String,
    pub value: f64,
    /// The value for people: `1.2 s`, `cost 4 310`.
    pub text: String,
    pub tone: Tone,
}

/// Bars about one thing (an index, a statement, a severity).
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub label: String,
    pub bars: Vec<Bar>,
}

/// What full width stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// The same whole for every bar, drawn as a faint track behind each group
    /// (the workload's total time).
    Whole { value: f64, text: String },
    /// The chart's largest value.
    Largest,
    /// Each group's largest value: groups of different magnitudes each stay
    /// readable; the caption says so.
    PerGroup,
}

/// Horizontal bars in groups.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Unique in the page: the ids of the title and description derive from it.
    pub id: String,
    pub title: String,
    pub description: String,
    /// The data table's heading for the groups' labels (`index`, `severity`).
    pub label_heading: String,
    pub scale: Scale,
    pub groups: Vec<BarGroup>,
}

/// A part of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub label: String,
    pub value: f64,
    pub text: String,
}

/// A line across a stacked bar: the limit the parts are held against.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub label: String,
    pub value: f64,
    pub text: String,
}

/// Parts stacked in one bar, against a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct StackChart {
    pub id: String,
    pub title: String,
    pub description: String,
    pub label_heading: String,
    pub segments: Vec<Segment>,
    /// The parts' sum, for people.
    pub total_text: String,
    pub limit: Limit,
}

/// One quantity sampled over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub tone: Tone,
    pub values: Vec<f64>,
}

/// Stacked columns over a sampling window, one per sample (or per bucket of
/// samples when there are more than [`MAX_COLUMNS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChart {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Seconds between samples.
    pub step_seconds: f64,
    pub series: Vec<Series>,
}

/// Text for markup: `&`, `<`, `>`, quotes escaped; control characters, which
/// XML does not allow, become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A label as the picture shows it: one line, at most `chars` characters.
pub fn shorten(label: &str, chars: usize) -> String {
    one_line(label, chars)
}

/// The length of `value` on a scale where `full` is `width` long: zero for
/// nothing, negative or not-a-number values and for an empty scale; never
/// longer than `width`.
pub fn length(value: f64, full: f64, width: f64) -> f64 {
    if !(value.is_finite() && value > 0.0 && full.is_finite() && full > 0.0) {
        return 0.0;
    }
    (value / full).min(1.0) * width
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value` (1 for nothing): an axis
/// ending on a round number.
pub fn round_up(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * magnitude)
        .find(|&candidate| candidate >= value * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

/// Consecutive ranges of `len` samples, at most `max` of them, as even as can be.
pub fn buckets(len: usize, max: usize) -> Vec<std::ops::Range<usize>> {
    let count = len.min(max.max(1));
    (0..count)
        .map(|i| (i * len / count)..((i + 1) * len / count))
        .collect()
}

/// Horizontal bars. A group of one bar is one row (label, bar, value); a group
/// of several has its label on a row of its own and each bar named on the left.
pub fn bar_chart(chart: &BarChart) -> Figure {
    let largest = chart
        .groups
        .iter()
        .flat_map(|g| &g.bars)
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let mut body = String::new();
    let mut y = TOP;
    for group in &chart.groups {
        let full = match &chart.scale {
            Scale::Whole { value, .. } => *value,
            Scale::Largest => largest,
            Scale::PerGroup => group
                .bars
                .iter()
                .map(|b| b.value)
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max),
        };
        let single = group.bars.len() == 1;
        if !single {
            let _ = write!(
                body,
                r#"<text x="0" y="{:.1}" font-weight="600">{}</text>"#,
                y + BAR_HEIGHT - 2.0,
                label_text(&group.label, (WIDTH / 7.0) as usize)
            );
            y += ROW_HEIGHT;
        }
        let track_top = y;
        let rows = group.bars.len().max(1) as f64;
        if let Scale::Whole { value, text } = &chart.scale {
            let _ = write!(
                body,
                r#"<rect class="whole" x="{PLOT_LEFT:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}" data-value="{}"><title>{}</title></rect>"#,
                track_top - 2.0,
                length(*value, *value, PLOT_WIDTH),
                rows * ROW_HEIGHT - (ROW_HEIGHT - BAR_HEIGHT) + 4.0,
                Tone::Whole.colour(),
                precise(*value),
                escape(text)
            );
        }
        for bar in &group.bars {
            let label = if single { &group.label } else { &bar.series };
            let _ = write!(
                body,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                PLOT_LEFT - 8.0,
                y + BAR_HEIGHT - 2.0,
                label_text(label, LABEL_CHARS)
            );
            let w = length(bar.value, full, PLOT_WIDTH);
            let _ = write!(
                body,
                r#"<rect class="bar" x="{PLOT_LEFT:.2}" y="{y:.2}" width="{w:.2}" height="{BAR_HEIGHT:.2}" fill="{}" data-series="{}" data-value="{}" data-full="{}"><title>{}: {}</title></rect>"#,
                bar.tone.colour(),
                escape(&bar.series),
                precise(bar.value),
                precise(full),
                escape(&one_line(&group.label, 200)),
                escape(&format!("{} {}", bar.series, bar.text))
            );
            // A long bar holds its value inside, so the text stays in the picture.
            let (x, anchor, fill) = if w > PLOT_WIDTH * 0.55 {
                (PLOT_LEFT + w - 5.0, "end", bar.tone.text_colour())
            } else {
                (PLOT_LEFT + w + 6.0, "start", "#1d2330")
            };
            let _ = write!(
                body,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
                y + BAR_HEIGHT - 2.0,
                escape(&one_line(&bar.text, 40))
            );
            y += ROW_HEIGHT;
        }
        y += GROUP_GAP;
    }
    if chart.groups.is_empty() {
        let _ = write!(
            body,
            r#"<text x="0" y="{:.1}">Nothing to draw.</text>"#,
            y + BAR_HEIGHT - 2.0
        );
        y += ROW_HEIGHT;
    }
    let caption = match &chart.scale {
        Scale::Whole { text, .. } => format!("full width: {text}"),
        Scale::Largest => String::new(),
        Scale::PerGroup => "each group drawn to its own largest value".to_string(),
    };
    if !caption.is_empty() {
        let _ = write!(
            body,
            r##"<text x="{PLOT_LEFT:.1}" y="{:.1}" fill="#5b6474">{}</text>"##,
            y + 10.0,
            escape(&caption)
        );
        y += ROW_HEIGHT;
    }

    let mut series: Vec<&str> = Vec::new();
    for bar in chart.groups.iter().flat_map(|g| &g.bars) {
        if !series.contains(&bar.series.as_str()) {
            series.push(&bar.series);
        }
    }
    let mut table = table_head(&chart.label_heading, &series);
    for group in &chart.groups {
        let cells: Vec<String> = series
            .iter()
            .map(|s| {
                group
                    .bars
                    .iter()
                    .find(|b| b.series == *s)
                    .map(|b| b.text.clone())
                    .unwrap_or_default()
            })
            .collect();
        table_row(&mut table, &group.label, &cells);
    }
    if let Scale::Whole { text, .. } = &chart.scale {
        let _ = write!(
            table,
            r#"<tr><td colspan="{}" class="note">full width: {}</td></tr>"#,
            series.len() + 1,
            escape(text)
        );
    }
    table.push_str("</table>");
    figure(
        &chart.id,
        &chart.title,
        &chart.description,
        y,
        &body,
        &table,
    )
}

/// Parts stacked left to right in one bar, with a line at the limit; the scale
/// is the larger of their sum and the limit, so a sum beyond the limit shows.
pub fn stacked_bar(chart: &StackChart) -> Figure {
    let sum: f64 = chart
        .segments
        .iter()
        .map(|s| s.value)
        .filter(|v| v.is_finite() && *v > 0.0)
        .sum();
    let full = sum.max(chart.limit.value);
    let width = WIDTH - 40.0;
    let left = 10.0;
    let bar_top = TOP + ROW_HEIGHT;
    let mut body = String::new();
    let mut x = left;
    for (n, segment) in chart.segments.iter().enumerate() {
        let w = length(segment.value, full, width);
        let _ = write!(
            body,
            r##"<rect class="bar" x="{x:.2}" y="{bar_top:.2}" width="{w:.2}" height="24" fill="{}" stroke="#ffffff" data-series="{}" data-value="{}" data-full="{}"><title>{}: {}</title></rect>"##,
            Tone::Series(n).colour(),
            escape(&one_line(&segment.label, 200)),
            precise(segment.value),
            precise(full),
            escape(&one_line(&segment.label, 200)),
            escape(&segment.text)
        );
        x += w;
    }
    let limit_x = left + length(chart.limit.value, full, width);
    let _ = write!(
        body,
        r##"<line class="limit" x1="{limit_x:.2}" x2="{limit_x:.2}" y1="{:.2}" y2="{:.2}" stroke="#1d2330" stroke-width="2" data-value="{}" data-full="{}"><title>{}</title></line>"##,
        TOP + 4.0,
        bar_top + 30.0,
        precise(chart.limit.value),
        precise(full),
        escape(&format!("{}: {}", chart.limit.label, chart.limit.text))
    );
    // The limit's label sits left of its line when the line is far right.
    let anchor = if limit_x > WIDTH * 0.6 {
        "end"
    } else {
        "start"
    };
    let offset = if anchor == "end" { -4.0 } else { 4.0 };
    let _ = write!(
        body,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" font-weight="600">{}</text>"#,
        limit_x + offset,
        TOP + 12.0,
        escape(&one_line(
            &format!("{} {}", chart.limit.label, chart.limit.text),
            60
        ))
    );
    let mut y = bar_top + 44.0;
    for (n, segment) in chart.segments.iter().enumerate() {
        let _ = write!(
            body,
            r#"<rect x="{left:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{} {}</text>"#,
            y,
            Tone::Series(n).colour(),
            left + 18.0,
            y + 10.0,
            label_text(&segment.label, LABEL_CHARS),
            escape(&one_line(&segment.text, 40))
        );
        y += ROW_HEIGHT;
    }
    if chart.segments.is_empty() {
        let _ = write!(
            body,
            r#"<text x="{left:.1}" y="{:.1}">Nothing to stack.</text>"#,
            y + 10.0
        );
        y += ROW_HEIGHT;
    }

    let mut table = table_head(&chart.label_heading, &["connections"]);
    for segment in &chart.segments {
        table_row(
            &mut table,
            &segment.label,
            std::slice::from_ref(&segment.text),
        );
    }
    table_row(&mut table, "total", std::slice::from_ref(&chart.total_text));
    table_row(
        &mut table,
        &chart.limit.label,
        std::slice::from_ref(&chart.limit.text),
    );
    table.push_str("</table>");
    figure(
        &chart.id,
        &chart.title,
        &chart.description,
        y,
        &body,
        &table,
    )
}

/// Stacked columns over time: each column the series' values at one sample
/// (or their means over a bucket of samples), on a round y axis.
pub fn time_chart(chart: &TimeChart) -> Figure {
    let samples = chart
        .series
        .iter()
        .map(|s| s.values.len())
        .max()
        .unwrap_or(0);
    let ranges = buckets(samples, MAX_COLUMNS);
    let mean_of = |values: &[f64], range: &std::ops::Range<usize>| {
        let taken: Vec<f64> = values
            .get(range.clone())
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        if range.is_empty() {
            0.0
        } else {
            taken.iter().sum::<f64>() / range.len() as f64
        }
    };
    // columns[c][s]: series s in column c.
    let columns: Vec<Vec<f64>> = ranges
        .iter()
        .map(|r| chart.series.iter().map(|s| mean_of(&s.values, r)).collect())
        .collect();
    let highest = columns
        .iter()
        .map(|c| c.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let top = round_up(highest);
    let left = 44.0;
    let width = WIDTH - left - 10.0;
    let plot_top = TOP + 6.0;
    let height = 160.0;
    let base = plot_top + height;
    let mut body = String::new();
    for (fraction, text) in [
        (0.0, "0".to_string()),
        (0.5, number(top / 2.0)),
        (1.0, number(top)),
    ] {
        let y = base - fraction * height;
        let _ = write!(
            body,
            r##"<line x1="{left:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#d9dee7"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#5b6474">{}</text>"##,
            left + width,
            left - 6.0,
            y + 4.0,
            escape(&text)
        );
    }
    let column_width = if columns.is_empty() {
        0.0
    } else {
        width / columns.len() as f64
    };
    for (c, column) in columns.iter().enumerate() {
        let x = left + c as f64 * column_width;
        let mut y = base;
        for (s, value) in column.iter().enumerate() {
            let h = length(*value, top, height);
            if h <= 0.0 {
                continue;
            }
            y -= h;
            let series = &chart.series[s];
            let _ = write!(
                body,
                r#"<rect class="bar" x="{x:.2}" y="{y:.2}" width="{:.2}" height="{h:.2}" fill="{}" shape-rendering="crispEdges" data-series="{}" data-value="{}" data-full="{}"><title>{}: {}</title></rect>"#,
                column_width.max(0.5),
                series.tone.colour(),
                escape(&series.label),
                precise(*value),
                precise(top),
                escape(&series.label),
                number(*value)
            );
        }
    }
    let seconds = samples as f64 * chart.step_seconds;
    let _ = write!(
        body,
        r##"<text x="{left:.1}" y="{:.1}" fill="#5b6474">0 s</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#5b6474">{} s</text>"##,
        base + 16.0,
        left + width,
        base + 16.0,
        number(seconds)
    );
    let mut x = left;
    let legend_y = base + 28.0;
    for series in &chart.series {
        let _ = write!(
            body,
            r#"<rect x="{x:.1}" y="{legend_y:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            series.tone.colour(),
            x + 16.0,
            legend_y + 10.0,
            label_text(&series.label, 24)
        );
        x += 16.0 + 8.0 * shorten(&series.label, 24).chars().count() as f64 + 16.0;
    }
    if samples == 0 {
        let _ = write!(
            body,
            r#"<text x="{:.1}" y="{:.1}">No samples.</text>"#,
            left + 8.0,
            base - 8.0
        );
    }
    let y = legend_y + ROW_HEIGHT;

    let mut table = table_head("state", &["peak", "mean"]);
    for series in &chart.series {
        let finite: Vec<f64> = series
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let peak = finite.iter().copied().fold(0.0, f64::max);
        let mean = if finite.is_empty() {
            0.0
        } else {
            finite.iter().sum::<f64>() / finite.len() as f64
        };
        table_row(&mut table, &series.label, &[number(peak), number(mean)]);
    }
    let bucket = ranges.first().map_or(1, |r| r.len().max(1));
    let _ = write!(
        table,
        r#"<tr><td colspan="3" class="note">{} samples, {} s apart{}</td></tr></table>"#,
        samples,
        number(chart.step_seconds),
        if samples > MAX_COLUMNS {
            format!("; each column the mean of about {bucket}")
        } else {
            String::new()
        }
    );
    figure(
        &chart.id,
        &chart.title,
        &chart.description,
        y,
        &body,
        &table,
    )
}

/// A number for people: whole numbers without decimals, others with up to two.
fn number(value: f64) -> String {
    decimals(value, 2)
}

/// A number for `data-value` and `data-full`: what the length was computed from.
fn precise(value: f64) -> String {
    decimals(value, 6)
}

fn decimals(value: f64, places: usize) -> String {
    if !value.is_finite() {
        return "0".into();
    }
    let text = format!("{value:.places$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

/// A label's text element content: cut to `chars`, the full text as its tooltip.
fn label_text(label: &str, chars: usize) -> String {
    let full = one_line(label, usize::MAX);
    let shown = shorten(label, chars);
    if shown == full {
        escape(&shown)
    } else {
        format!("<title>{}</title>{}", escape(&full), escape(&shown))
    }
}

fn table_head(label_heading: &str, columns: &[&str]) -> String {
    let mut table = String::from(r#"<table class="chart-data"><tr>"#);
    let _ = write!(table, r#"<th scope="col">{}</th>"#, escape(label_heading));
    for column in columns {
        let _ = write!(table, r#"<th scope="col">{}</th>"#, escape(column));
    }
    table.push_str("</tr>");
    table
}

fn table_row(table: &mut String, label: &str, cells: &[String]) {
    let _ = write!(table, r#"<tr><th scope="row">{}</th>"#, escape(label));
    for cell in cells {
        let _ = write!(table, "<td>{}</td>", escape(cell));
    }
    table.push_str("</tr>");
}

/// The figure: the picture, named by its title and description, then its numbers.
fn figure(
    id: &str,
    title: &str,
    description: &str,
    height: f64,
    body: &str,
    table: &str,
) -> Figure {
    let id = escape(id);
    Figure(format!(
        r#"<figure class="chart" id="{id}"><svg role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH:.0} {height:.0}" width="{WIDTH:.0}" height="{height:.0}" {FONT}><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>{body}</svg><figcaption>{}</figcaption>{table}</figure>"#,
        escape(title),
        escape(description),
        escape(title),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (data-series, data-value, width, data-full) of every bar, in order.
    fn bars(markup: &str) -> Vec<(String, f64, f64, f64)> {
        markup
            .split(r#"<rect class="bar""#)
            .skip(1)
            .map(|rest| {
                let tag = &rest[..rest.find('>').unwrap()];
                let attr = |name: &str| {
                    let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    tag[start..start + tag[start..].find('"').unwrap()].to_string()
                };
                (
                    attr("data-series"),
                    attr("data-value").parse().unwrap(),
                    attr("width").parse().unwrap(),
                    attr("data-full").parse().unwrap(),
                )
            })
            .collect()
    }

    fn bar(series: &str, value: f64, tone: Tone) -> Bar {
        Bar {
            series: series.into(),
            value,
            text: format!("{value}"),
            tone,
        }
    }

    fn chart(scale: Scale, groups: Vec<BarGroup>) -> BarChart {
        BarChart {
            id: "c".into(),
            title: "t".into(),
            description: "d".into(),
            label_heading: "thing".into(),
            scale,
            groups,
        }
    }

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        let cases = [
            ("plain", "plain"),
            ("a<b>&c", "a&lt;b&gt;&amp;c"),
            (
                r#""quoted" 'single'"#,
                "&quot;quoted&quot; &#39;single&#39;",
            ),
            ("nul\0bell\u{7}", "nul bell "),
            ("ünïcødé ✓ 表", "ünïcødé ✓ 表"),
            ("</svg><script>", "&lt;/svg&gt;&lt;script&gt;"),
        ];
        for (text, expected) in cases {
            assert_eq!(escape(text), expected, "{text:?}");
        }
    }

    #[test]
    fn hostile_labels_never_become_markup() {
        let label = r#"public."we<ird" & 'idx' </svg><script>alert(1)</script> ✓"#;
        let figure = bar_chart(&chart(
            Scale::Largest,
            vec![BarGroup {
                label: label.into(),
                bars: vec![bar(r#"se"ries<"#, 3.0, Tone::After)],
            }],
        ));
        let html = figure.as_str();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("we<ird"), "{html}");
        assert!(
            html.contains("&quot;we&lt;ird&quot; &amp; &#39;idx&#39;"),
            "{html}"
        );
        assert!(html.contains("✓"));
        // Exactly the elements this module writes: one svg, closed once.
        assert_eq!(html.matches("<svg").count(), 1);
        assert_eq!(html.matches("</svg>").count(), 1);
        assert_eq!(bars(html)[0].0, "se&quot;ries&lt;");
    }

    #[test]
    fn long_labels_are_cut_with_the_full_text_in_a_title() {
        let long = format!("public.{}", "très_long_nom_d_index_".repeat(5));
        let figure = bar_chart(&chart(
            Scale::Largest,
            vec![BarGroup {
                label: long.clone(),
                bars: vec![bar("n", 1.0, Tone::Low)],
            }],
        ));
        let html = figure.as_str();
        let shown = shorten(&long, LABEL_CHARS);
        assert_eq!(shown.chars().count(), LABEL_CHARS);
        assert!(shown.ends_with('…'));
        assert!(
            html.contains(&format!("<title>{long}</title>{shown}</text>")),
            "{html}"
        );
        // A short label is shown whole, with no tooltip of its own.
        let short = bar_chart(&chart(
            Scale::Largest,
            vec![BarGroup {
                label: "high".into(),
                bars: vec![bar("n", 1.0, Tone::High)],
            }],
        ));
        assert!(short.as_str().contains(r#"text-anchor="end">high</text>"#));
    }

    #[test]
    fn bar_lengths_are_proportional_to_the_values() {
        let whole = 1000.0;
        let groups = vec![
            BarGroup {
                label: "a".into(),
                bars: vec![
                    bar("took", 400.0, Tone::Before),
                    bar("saved", 300.0, Tone::After),
                ],
            },
            BarGroup {
                label: "b".into(),
                bars: vec![
                    bar("took", 100.0, Tone::Before),
                    bar("saved", 25.0, Tone::After),
                ],
            },
        ];
        let cases = [
            (
                Scale::Whole {
                    value: whole,
                    text: "1 s".into(),
                },
                [whole, whole, whole, whole],
            ),
            (Scale::Largest, [400.0, 400.0, 400.0, 400.0]),
            (Scale::PerGroup, [400.0, 400.0, 100.0, 100.0]),
        ];
        for (scale, fulls) in cases {
            let figure = bar_chart(&chart(scale.clone(), groups.clone()));
            let drawn = bars(figure.as_str());
            let values = [400.0, 300.0, 100.0, 25.0];
            assert_eq!(drawn.len(), 4, "{scale:?}");
            for ((series, value, width, full), (expected, expected_full)) in
                drawn.iter().zip(values.iter().zip(fulls))
            {
                assert_eq!(*value, *expected, "{scale:?} {series}");
                assert_eq!(*full, expected_full, "{scale:?} {series}");
                let want = expected / expected_full * PLOT_WIDTH;
                assert!(
                    (width - want).abs() < 0.01,
                    "{scale:?} {series}: {width} vs {want}"
                );
            }
        }
        // The whole is drawn as a track of the full plot width.
        let figure = bar_chart(&chart(
            Scale::Whole {
                value: whole,
                text: "1 s".into(),
            },
            groups,
        ));
        assert_eq!(figure.as_str().matches(r#"class="whole""#).count(), 2);
        assert!(figure
            .as_str()
            .contains(&format!(r#"width="{PLOT_WIDTH:.2}""#)));
    }

    #[test]
    fn zero_empty_and_broken_values_draw_nothing_wrong() {
        assert_eq!(length(0.0, 10.0, 100.0), 0.0);
        assert_eq!(length(5.0, 0.0, 100.0), 0.0);
        assert_eq!(length(-5.0, 10.0, 100.0), 0.0);
        assert_eq!(length(f64::NAN, 10.0, 100.0), 0.0);
        assert_eq!(length(5.0, f64::INFINITY, 100.0), 0.0);
        assert_eq!(length(20.0, 10.0, 100.0), 100.0);
        assert_eq!(length(2.5, 10.0, 100.0), 25.0);

        // All zero: every bar has no length, the text still says 0.
        let zeros = bar_chart(&chart(
            Scale::Largest,
            vec![BarGroup {
                label: "critical".into(),
                bars: vec![bar("findings", 0.0, Tone::Critical)],
            }],
        ));
        assert_eq!(bars(zeros.as_str())[0].2, 0.0);
        assert!(!zeros.as_str().contains("NaN"));
        assert!(zeros.as_str().contains("<td>0</td>"));

        let empty = bar_chart(&chart(Scale::PerGroup, vec![]));
        assert!(empty.as_str().contains("Nothing to draw."));
        assert!(bars(empty.as_str()).is_empty());

        let no_stack = stacked_bar(&StackChart {
            id: "s".into(),
            title: "t".into(),
            description: "d".into(),
            label_heading: "application".into(),
            segments: vec![],
            total_text: "0".into(),
            limit: Limit {
                label: "budget".into(),
                value: 0.0,
                text: "0".into(),
            },
        });
        assert!(!no_stack.as_str().contains("NaN"));
        assert!(no_stack.as_str().contains("Nothing to stack."));

        let no_samples = time_chart(&TimeChart {
            id: "t".into(),
            title: "t".into(),
            description: "d".into(),
            step_seconds: 0.1,
            series: vec![Series {
                label: "active".into(),
                tone: Tone::Active,
                values: vec![],
            }],
        });
        assert!(no_samples.as_str().contains("No samples."));
        assert!(!no_samples.as_str().contains("NaN"));
    }

    #[test]
    fn axes_end_on_round_numbers() {
        let cases = [
            (0.0, 1.0),
            (-3.0, 1.0),
            (f64::NAN, 1.0),
            (1.0, 1.0),
            (1.2, 2.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (10.0, 10.0),
            (42.0, 50.0),
            (0.03, 0.05),
            (999.0, 1000.0),
        ];
        for (value, expected) in cases {
            let got = round_up(value);
            assert!((got - expected).abs() < 1e-9, "{value}: {got}");
        }
    }

    #[test]
    fn samples_fall_into_even_buckets() {
        let cases: [(usize, usize, Vec<std::ops::Range<usize>>); 4] = [
            (0, 10, vec![]),
            (3, 10, vec![0..1, 1..2, 2..3]),
            (10, 4, vec![0..2, 2..5, 5..7, 7..10]),
            (6, 2, vec![0..3, 3..6]),
        ];
        for (len, max, expected) in cases {
            assert_eq!(buckets(len, max), expected, "{len} {max}");
        }
        // No room at all still gives one column of everything.
        let one = buckets(5, 0);
        assert_eq!((one.len(), one[0].clone()), (1, 0..5));
    }

    #[test]
    fn stacked_parts_add_up_and_the_limit_sits_where_it_should() {
        let segment = |label: &str, value: f64| Segment {
            label: label.into(),
            value,
            text: format!("{value}"),
        };
        let chart = |limit: f64| StackChart {
            id: "pools".into(),
            title: "t".into(),
            description: "d".into(),
            label_heading: "application".into(),
            segments: vec![
                segment("api", 80.0),
                segment("worker", 20.0),
                segment("admin", 5.0),
            ],
            total_text: "105".into(),
            limit: Limit {
                label: "budget".into(),
                value: limit,
                text: format!("{limit}"),
            },
        };
        let width = WIDTH - 40.0;
        for (limit, full) in [(97.0, 105.0), (200.0, 200.0)] {
            let figure = stacked_bar(&chart(limit));
            let drawn = bars(figure.as_str());
            assert_eq!(drawn.len(), 3);
            for ((_, value, w, f), expected) in drawn.iter().zip([80.0, 20.0, 5.0]) {
                assert_eq!((*value, *f), (expected, full));
                assert!((w - expected / full * width).abs() < 0.01);
            }
            let limit_x = 10.0 + limit / full * width;
            assert!(
                figure.as_str().contains(&format!(r#"x1="{limit_x:.2}""#)),
                "{}",
                figure.as_str()
            );
            assert!(figure
                .as_str()
                .contains("<th scope=\"row\">total</th><td>105</td>"));
        }
    }

    #[test]
    fn columns_stack_the_states_of_each_sample() {
        let chart = TimeChart {
            id: "states".into(),
            title: "t".into(),
            description: "d".into(),
            step_seconds: 0.1,
            series: vec![
                Series {
                    label: "active".into(),
                    tone: Tone::Active,
                    values: vec![1.0, 3.0, 0.0],
                },
                Series {
                    label: "idle".into(),
                    tone: Tone::Idle,
                    values: vec![2.0, 1.0, 4.0],
                },
            ],
        };
        let figure = time_chart(&chart);
        let drawn = bars(figure.as_str());
        // Zero-height parts are left out; the axis goes to 5 (the highest column is 4).
        let values: Vec<(&str, f64)> = drawn.iter().map(|(s, v, _, _)| (s.as_str(), *v)).collect();
        assert_eq!(
            values,
            [
                ("active", 1.0),
                ("idle", 2.0),
                ("active", 3.0),
                ("idle", 1.0),
                ("idle", 4.0)
            ]
        );
        assert!(drawn.iter().all(|(_, _, _, full)| *full == 5.0));
        let heights: Vec<f64> = figure
            .as_str()
            .split(r#"<rect class="bar""#)
            .skip(1)
            .map(|r| {
                let start = r.find(" height=\"").unwrap() + 9;
                r[start..start + r[start..].find('"').unwrap()]
                    .parse()
                    .unwrap()
            })
            .collect();
        for ((_, value, _, _), h) in drawn.iter().zip(heights) {
            assert!((h - value / 5.0 * 160.0).abs() < 0.01);
        }
        assert!(figure
            .as_str()
            .contains("<th scope=\"row\">active</th><td>3</td><td>1.33</td>"));

        // More samples than columns: each column is a bucket's mean.
        let many = TimeChart {
            series: vec![Series {
                label: "active".into(),
                tone: Tone::Active,
                values: (0..MAX_COLUMNS * 2).map(|i| (i % 2) as f64 * 2.0).collect(),
            }],
            ..chart
        };
        let figure = time_chart(&many);
        let drawn = bars(figure.as_str());
        assert_eq!(drawn.len(), MAX_COLUMNS);
        assert!(drawn.iter().all(|(_, v, _, _)| *v == 1.0));
        assert!(figure.as_str().contains("each column the mean of about 2"));
    }

    #[test]
    fn every_figure_names_its_picture_for_screen_readers() {
        let figure = bar_chart(&chart(Scale::Largest, vec![]));
        let html = figure.as_str();
        assert!(html.contains(r#"role="img" aria-labelledby="c-title c-desc""#));
        assert!(html.contains(r#"<title id="c-title">t</title><desc id="c-desc">d</desc>"#));
        assert!(html.contains(r#"<table class="chart-data">"#));
        // Nothing the page's CSP would refuse.
        for refused in [
            "<script",
            "url(",
            "href",
            "<image",
            "<foreignObject",
            "style=",
        ] {
            assert!(!html.contains(refused), "{refused}");
        }
    }
}

//! The report as one self-contained HTML page: inline CSS and inline SVG, no scripts, fonts,
//! images or links to fetch, so it can be mailed, attached or opened offline.
//!
//! Charts are drawn from well-known columns when their table has them (`cohorts` for the
//! heatmap, `funnel` for the funnel, `activation` for the tier mix); every table is also shown
//! as a table, so a report an analyst reshaped still renders, only with fewer charts.
//!
//! The page is `templates/report.html`, rendered by minijinja from a [`Page`] this module
//! computes: every figure formatted and every chart's coordinates in place. The markup and the
//! words are in the templates. [`render_page`] is shared with the calibration page: the same
//! head (`templates/head.html`), stylesheet (`templates/style.css`), escaping and template
//! settings.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior, Value};
use serde::Serialize;

use super::{Context, Table};

/// Tables longer than this are summarised on the page; the CSV/Parquet files have every row.
const MAX_TABLE_ROWS: usize = 300;

const RED: (u8, u8, u8) = (0xd6, 0x45, 0x45);
const YELLOW: (u8, u8, u8) = (0xe8, 0xb3, 0x2e);
const GREEN: (u8, u8, u8) = (0x2f, 0x9e, 0x5b);

/// This page's templates; the stylesheet comes with [`render_page`].
const TEMPLATES: [(&str, &str); 2] = [
    ("report.html", include_str!("templates/report.html")),
    (
        "model_health.html",
        include_str!("templates/model_health.html"),
    ),
];

/// What every page shares: its head (`head.html`) and the stylesheet in it (a page adds rules
/// of its own by setting `page_css`, as the calibration page does).
const SHARED: [(&str, &str); 2] = [
    ("head.html", include_str!("templates/head.html")),
    ("style.css", include_str!("templates/style.css")),
];

/// Render the template `name` of `templates` (with the shared head and stylesheet beside them)
/// from `page`. Block tags may sit on lines of their own (`trim_blocks`, `lstrip_blocks`), a
/// template's last newline is kept, a name a template uses but `page` lacks is an error, and
/// `.html` templates escape every value they print ([`escape_html`]). The templates and the
/// view models are this crate's own, so a failure is a bug.
pub fn render_page(
    templates: &[(&'static str, &'static str)],
    name: &str,
    page: &impl Serialize,
) -> String {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters");
    env.set_syntax(syntax);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(escape_html);
    for &(template, source) in SHARED.iter().chain(templates) {
        env.add_template(template, source)
            .unwrap_or_else(|e| panic!("{template} does not parse: {e:#}"));
    }
    env.get_template(name)
        .and_then(|t| t.render(Value::from(Serde(page))))
        .unwrap_or_else(|e| panic!("{name} does not render its view model: {e:#}"))
}

/// Prints a value in an auto-escaping (`.html`) template as these pages have always escaped
/// text: `&`, `<`, `>`, `"` and `'` (as `&#39;`) become entities. minijinja's own formatter
/// also turns `/` into `&#x2f;` and writes `'` as `&#x27;`, which would change the pages'
/// bytes (every path, URL and SQL definition on them) for no gain. Values marked safe, values
/// that are not text, and templates that do not escape go to minijinja's formatter.
fn escape_html(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    let text = match value.as_str() {
        Some(text) if *state.auto_escape() == AutoEscape::Html && !value.is_safe() => text,
        _ => return minijinja::escape_formatter(out, state, value),
    };
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.write_str(&rest[..at])?;
        out.write_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        })?;
        rest = &rest[at + 1..];
    }
    out.write_str(rest)?;
    Ok(())
}

/// A table's column as text cells, and as numbers where it is numeric.
struct Column {
    name: String,
    numeric: bool,
    text: Vec<String>,
    number: Vec<Option<f64>>,
}

fn columns(table: &Table) -> Vec<Column> {
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M"));
    table
        .schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let numeric = field.data_type().is_numeric();
            let mut text = Vec::new();
            let mut number = Vec::new();
            for batch in &table.batches {
                let array = batch.column(i);
                let formatter = ArrayFormatter::try_new(array.as_ref(), &options).ok();
                let floats = if numeric {
                    datafusion::arrow::compute::cast(array, &DataType::Float64).ok()
                } else {
                    None
                };
                for row in 0..array.len() {
                    text.push(
                        formatter
                            .as_ref()
                            .map(|f| f.value(row).to_string())
                            .unwrap_or_default(),
                    );
                    number.push(floats.as_ref().and_then(|f| {
                        let f = f.as_primitive::<Float64Type>();
                        f.is_valid(row).then(|| f.value(row))
                    }));
                }
            }
            Column {
                name: field.name().clone(),
                numeric,
                text,
                number,
            }
        })
        .collect()
}

fn find<'a>(columns: &'a [Column], name: &str) -> Option<&'a Column> {
    columns.iter().find(|c| c.name == name)
}

fn total(columns: &[Column], name: &str) -> Option<f64> {
    find(columns, name).map(|c| c.number.iter().flatten().sum())
}

fn is_ratio(name: &str) -> bool {
    name.ends_with("_rate") || name.ends_with("_share")
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn count(v: f64) -> String {
    let n = v.round() as i64;
    pqlsync_core::fmt::thousands(n)
}

/// Blend white → `to` by `t` in 0..1.
fn shade(t: f64, to: (u8, u8, u8)) -> String {
    let t = t.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 - (255.0 - f64::from(c)) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(to.0), mix(to.1), mix(to.2))
}

/// The window in days a `*_Nd_rate` column measures, if its name says.
fn window_days(name: &str) -> Option<i64> {
    let stem = name.strip_suffix("_rate")?;
    let days = stem.rsplit('_').next()?.strip_suffix('d')?;
    days.parse().ok()
}

/// The whole page.
pub fn render(tables: &[Table], context: &Context) -> String {
    render_page(&TEMPLATES, "report.html", &Page::of(tables, context))
}

/// Everything `templates/report.html` shows. A chart is `None` when its table or its columns
/// are missing; `kpis` is empty then.
#[derive(Serialize)]
struct Page {
    as_of: String,
    from: String,
    to: String,
    history_days: usize,
    history_first: Option<String>,
    history_url: String,
    version: &'static str,
    kpis: Vec<Kpi>,
    heatmap: Option<Heatmap>,
    funnel: Option<Funnel>,
    tier_mix: Option<TierMix>,
    health: Option<Health>,
    /// The headline tables first, then any others in the order they were computed.
    tables: Vec<TableView>,
    max_rows: usize,
}

impl Page {
    fn of(tables: &[Table], context: &Context) -> Page {
        let by_name = |name: &str| tables.iter().find(|t| t.name == name);
        let cohorts = by_name("cohorts").map(columns);
        Page {
            as_of: context.as_of.to_string(),
            from: context.from.to_string(),
            to: context.to.to_string(),
            history_days: context.history_days,
            history_first: context.history_first.map(|d| d.to_string()),
            history_url: context.history_url.clone(),
            version: env!("CARGO_PKG_VERSION"),
            kpis: cohorts.as_deref().map(kpis).unwrap_or_default(),
            heatmap: cohorts.as_deref().and_then(heatmap),
            funnel: by_name("funnel").and_then(|t| funnel(&columns(t))),
            tier_mix: by_name("activation").and_then(|t| tier_mix(&columns(t))),
            health: by_name(super::MODEL_HEALTH)
                .and_then(|t| HealthChart::of(&columns(t)).map(|c| c.view(&context.health))),
            tables: ordered(tables).into_iter().map(table).collect(),
            max_rows: MAX_TABLE_ROWS,
        }
    }
}

/// A headline figure: the total of a `cohorts` column (the template names it), and its share
/// of the trials started.
#[derive(Serialize)]
struct Kpi {
    column: &'static str,
    value: String,
    share: Option<String>,
}

fn kpis(cols: &[Column]) -> Vec<Kpi> {
    let Some(trials) = total(cols, "trials_started").filter(|t| *t > 0.0) else {
        return Vec::new();
    };
    let mut cards = vec![Kpi {
        column: "trials_started",
        value: count(trials),
        share: None,
    }];
    for column in [
        "reached_green_14d",
        "converted_paid_30d",
        "converted_paid_to_date",
        "disqualified",
    ] {
        if let Some(n) = total(cols, column) {
            cards.push(Kpi {
                column,
                value: count(n),
                share: Some(percent(n / trials)),
            });
        }
    }
    cards
}

#[derive(Serialize)]
struct Heatmap {
    rates: Vec<RateColumn>,
    rows: Vec<HeatRow>,
}

/// A `*_rate` column of `cohorts`, and its heading.
#[derive(Serialize)]
struct RateColumn {
    name: String,
    label: String,
}

#[derive(Serialize)]
struct HeatRow {
    week: String,
    trials: String,
    /// One per rate column; `None` where the rate is null.
    cells: Vec<Option<HeatCell>>,
}

#[derive(Serialize)]
struct HeatCell {
    share: String,
    colour: String,
    /// The cohort's youngest trials have not had the rate's whole window yet.
    open: bool,
}

fn heatmap(cols: &[Column]) -> Option<Heatmap> {
    let weeks = find(cols, "cohort_week")?;
    // Activation first, then conversion, each in the table's own column order.
    let mut rates: Vec<&Column> = cols
        .iter()
        .filter(|c| c.numeric && c.name.ends_with("_rate"))
        .collect();
    rates.sort_by_key(|c| !c.name.starts_with("reached_"));
    if rates.is_empty() || weeks.text.is_empty() {
        return None;
    }
    let trials = find(cols, "trials_started");
    let observed = find(cols, "days_observed");
    let cell = |c: &Column, row: usize| {
        let seen = observed.and_then(|o| o.number[row]);
        let open = match (window_days(&c.name), seen) {
            (Some(window), Some(seen)) => seen < window as f64,
            _ => false,
        };
        c.number[row].map(|v| HeatCell {
            share: percent(v),
            colour: shade(v, GREEN),
            open,
        })
    };
    let rows = (0..weeks.text.len())
        .map(|row| HeatRow {
            week: weeks.text[row].clone(),
            trials: trials.map(|t| t.text[row].clone()).unwrap_or_default(),
            cells: rates.iter().map(|c| cell(c, row)).collect(),
        })
        .collect();
    let rates = rates
        .iter()
        .map(|c| RateColumn {
            name: c.name.clone(),
            label: c.name.trim_end_matches("_rate").replace('_', " "),
        })
        .collect();
    Some(Heatmap { rates, rows })
}

/// The funnel's steps, by the `funnel` column each totals (the template names them).
const FUNNEL_STEPS: [&str; 3] = ["pql", "sql", "closed_won_from_sql"];

#[derive(Serialize)]
struct Funnel {
    width: String,
    height: String,
    label_w: String,
    bar_h: String,
    /// Trials routed to sales, and won without an SQL, when the table counts them.
    others: Option<Others>,
    bars: Vec<FunnelBar>,
}

#[derive(Serialize)]
struct Others {
    routed: String,
    won: String,
}

#[derive(Serialize)]
struct FunnelBar {
    column: &'static str,
    step: usize,
    y: String,
    w: String,
    text_x: String,
    text_y: String,
    /// The label's colour: white inside a long bar, ink after a short one.
    fill: &'static str,
    count: String,
    /// Shares of the previous step and of all PQLs, for every step after the first.
    of_previous: Option<String>,
    of_pql: Option<String>,
}

fn funnel(cols: &[Column]) -> Option<Funnel> {
    let steps: Vec<(&'static str, f64)> = FUNNEL_STEPS
        .iter()
        .filter_map(|column| total(cols, column).map(|v| (*column, v)))
        .collect();
    if steps.len() < 2 || steps[0].1 <= 0.0 {
        return None;
    }
    let top = steps[0].1;
    let (width, bar_h, gap, label_w) = (760.0, 34.0, 14.0, 190.0);
    let height = steps.len() as f64 * (bar_h + gap) + gap;
    let mut previous = top;
    let bars = steps
        .iter()
        .enumerate()
        .map(|(i, &(column, value))| {
            let y = gap + i as f64 * (bar_h + gap);
            let w = ((width - label_w - 10.0) * value / top).max(1.0);
            // Long bars carry their label inside, short ones just after their end.
            let inside = w > (width - label_w) * 0.55;
            let (text_x, fill) = if inside {
                (label_w + 8.0, "#ffffff")
            } else {
                (label_w + w + 8.0, "#1d2433")
            };
            let later = i > 0;
            let of_previous = later.then(|| percent(value / previous.max(1.0)));
            previous = value;
            FunnelBar {
                column,
                step: i,
                y: format!("{y:.1}"),
                w: format!("{w:.1}"),
                text_x: format!("{text_x:.1}"),
                text_y: format!("{:.1}", y + bar_h * 0.65),
                fill,
                count: count(value),
                of_previous,
                of_pql: later.then(|| percent(value / top)),
            }
        })
        .collect();
    // Trials that paid without sales accepting them are no step of this funnel; say how many.
    let others = match (
        total(cols, "closed_won_self_serve"),
        total(cols, "routed_to_sales"),
    ) {
        (Some(won), Some(routed)) => Some(Others {
            routed: count(routed),
            won: count(won),
        }),
        _ => None,
    };
    Some(Funnel {
        width: width.to_string(),
        height: height.to_string(),
        label_w: label_w.to_string(),
        bar_h: bar_h.to_string(),
        others,
        bars,
    })
}

#[derive(Serialize)]
struct TierMix {
    width: String,
    height: String,
    left: String,
    bar_w: String,
    /// Each tier's colour, by name.
    colours: TierColours,
    grid: Vec<TierGrid>,
    weeks: Vec<TierWeek>,
}

#[derive(Serialize)]
struct TierColours {
    red: String,
    yellow: String,
    green: String,
}

#[derive(Serialize)]
struct TierGrid {
    y: String,
    text_y: String,
    label: &'static str,
}

/// One week's bar: its segments from the bottom up, and its axis label unless too crowded.
#[derive(Serialize)]
struct TierWeek {
    week: String,
    total: String,
    segments: Vec<Segment>,
    tick: Option<Tick>,
}

#[derive(Serialize)]
struct Segment {
    tier: &'static str,
    x: String,
    y: String,
    h: String,
    count: String,
    share: String,
}

#[derive(Serialize)]
struct Tick {
    x: String,
    y: String,
    label: String,
}

fn tier_mix(cols: &[Column]) -> Option<TierMix> {
    let (Some(weeks), Some(red), Some(yellow), Some(green)) = (
        find(cols, "week"),
        find(cols, "red"),
        find(cols, "yellow"),
        find(cols, "green"),
    ) else {
        return None;
    };
    let n = weeks.text.len();
    if n == 0 {
        return None;
    }
    let (plot_h, left, top_pad, bottom) = (220.0, 40.0, 10.0, 60.0);
    let bar_w = (640.0 / n as f64).clamp(8.0, 48.0);
    let width = left + n as f64 * (bar_w + 4.0) + 10.0;
    let grid = [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")]
        .into_iter()
        .map(|(frac, label)| {
            let y = top_pad + plot_h * (1.0 - frac);
            TierGrid {
                y: format!("{y:.1}"),
                text_y: format!("{:.1}", y + 4.0),
                label,
            }
        })
        .collect();
    let week = |i: usize| {
        let values = [
            (red.number[i].unwrap_or(0.0), "red"),
            (yellow.number[i].unwrap_or(0.0), "yellow"),
            (green.number[i].unwrap_or(0.0), "green"),
        ];
        let x = left + 4.0 + i as f64 * (bar_w + 4.0);
        let text = &weeks.text[i];
        TierWeek {
            week: text.clone(),
            total: count(values.iter().map(|v| v.0).sum()),
            segments: segments(values, x, top_pad + plot_h, plot_h),
            tick: (n <= 20 || i.is_multiple_of(n.div_ceil(20))).then(|| Tick {
                x: format!("{:.1}", x + bar_w / 2.0),
                y: format!("{:.1}", top_pad + plot_h + 12.0),
                label: text.get(5..).unwrap_or(text).to_string(),
            }),
        }
    };
    Some(TierMix {
        width: format!("{width:.0}"),
        height: format!("{:.0}", top_pad + plot_h + bottom),
        left: left.to_string(),
        bar_w: format!("{bar_w:.1}"),
        colours: TierColours {
            red: shade(1.0, RED),
            yellow: shade(1.0, YELLOW),
            green: shade(1.0, GREEN),
        },
        grid,
        weeks: (0..n).map(week).collect(),
    })
}

/// A week's tiers stacked up from `base` over `plot_h`, each its share of the week's total;
/// empty tiers (and weeks) have no segment.
fn segments(values: [(f64, &'static str); 3], x: f64, base: f64, plot_h: f64) -> Vec<Segment> {
    let sum: f64 = values.iter().map(|v| v.0).sum();
    let mut y = base;
    values
        .into_iter()
        .filter(|(value, _)| sum > 0.0 && *value > 0.0)
        .map(|(value, tier)| {
            let h = plot_h * value / sum;
            y -= h;
            Segment {
                tier,
                x: format!("{x:.1}"),
                y: format!("{y:.1}"),
                h: format!("{h:.1}"),
                count: count(value),
                share: percent(value / sum),
            }
        })
        .collect()
}

/// The model health section (templates/model_health.html): AUC by month against its
/// baseline, PSI bars, and the months to recalibrate named above the chart.
#[derive(Serialize)]
struct Health {
    at_day: u32,
    horizon: u32,
    psi_limit: String,
    baseline_source: &'static str,
    reference_source: &'static str,
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    psi_top: f64,
    grid: Vec<HealthGrid>,
    bars: Vec<PsiBar>,
    points: Vec<AucPoint>,
    ticks: Vec<MonthTick>,
    /// The months to recalibrate, and why.
    flagged: Vec<FlaggedMonth>,
    /// The AUC line's points, when a month was judged.
    line: Option<String>,
    baseline_y: Option<f64>,
    /// Something was judged: a baseline to compare AUCs with, or a PSI.
    judged: bool,
}

#[derive(Serialize)]
struct HealthGrid {
    y: f64,
    label: String,
}

#[derive(Serialize)]
struct PsiBar {
    x: f64,
    w: f64,
    y: f64,
    h: f64,
    psi: String,
    month: String,
}

#[derive(Serialize)]
struct AucPoint {
    x: f64,
    y: f64,
    auc: String,
    month: String,
    flagged: bool,
    flag: String,
    /// `judged` for a month whose trials all have their label, else `open`.
    class: &'static str,
}

#[derive(Serialize)]
struct MonthTick {
    x: f64,
    y: f64,
    label: String,
    flagged: bool,
}

#[derive(Serialize)]
struct FlaggedMonth {
    month: String,
    flag: String,
}

/// The model health chart's geometry: AUC from 0.4 to 1.0 on the left axis, PSI from 0 to
/// `psi_top` behind it, one slot per month.
struct HealthChart<'a> {
    months: &'a Column,
    auc: &'a Column,
    psi: &'a Column,
    baseline: &'a Column,
    complete: &'a Column,
    flag: &'a Column,
    psi_top: f64,
    step: f64,
}

impl<'a> HealthChart<'a> {
    const PLOT_H: f64 = 200.0;
    const LEFT: f64 = 40.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 40.0;

    fn of(cols: &'a [Column]) -> Option<Self> {
        let months = find(cols, "month")?;
        let psi = find(cols, "psi")?;
        let n = months.text.len();
        if n == 0 {
            return None;
        }
        Some(HealthChart {
            months,
            auc: find(cols, "auc")?,
            psi,
            baseline: find(cols, "baseline_auc")?,
            complete: find(cols, "complete")?,
            flag: find(cols, "flag")?,
            // A whole number of PSI, at least 1.
            psi_top: psi
                .number
                .iter()
                .flatten()
                .fold(1.0_f64, |a, b| a.max(*b))
                .ceil(),
            step: (640.0 / n as f64).clamp(24.0, 64.0),
        })
    }

    fn y_auc(&self, v: f64) -> f64 {
        Self::TOP + Self::PLOT_H * (1.0 - ((v - 0.4) / 0.6).clamp(0.0, 1.0))
    }

    fn x(&self, i: usize) -> f64 {
        Self::LEFT + self.step * (i as f64 + 0.5)
    }

    fn label(&self, i: usize) -> String {
        let text = &self.months.text[i];
        text.get(..7).unwrap_or(text).to_string()
    }

    fn flagged(&self, i: usize) -> bool {
        !self.flag.text[i].is_empty()
    }

    /// The section, with `note`'s definitions for its words.
    fn view(&self, note: &super::HealthNote) -> Health {
        let n = self.months.text.len();
        let judged: Vec<usize> = (0..n).filter(|i| self.auc.number[*i].is_some()).collect();
        let line: Vec<String> = self
            .points(&judged)
            .iter()
            .map(|p| format!("{},{}", p.x, p.y))
            .collect();
        let right = Self::LEFT + n as f64 * self.step;
        let source = |calibrated: bool| if calibrated { "calibration" } else { "first" };
        Health {
            at_day: note.at_day,
            horizon: note.horizon,
            psi_limit: format!("{:.2}", note.psi_limit),
            baseline_source: source(note.calibrated_auc),
            reference_source: source(note.calibrated_reference),
            width: round(right + 10.0),
            height: round(Self::TOP + Self::PLOT_H + Self::BOTTOM),
            left: Self::LEFT,
            right: round(right),
            psi_top: self.psi_top,
            grid: [0.5, 0.7, 0.9]
                .iter()
                .map(|v| HealthGrid {
                    y: round(self.y_auc(*v)),
                    label: format!("{v:.1}"),
                })
                .collect(),
            bars: self.bars(),
            points: self.points(&judged),
            ticks: (0..n)
                .map(|i| MonthTick {
                    x: round(self.x(i)),
                    y: round(Self::TOP + Self::PLOT_H + 16.0),
                    label: self.label(i),
                    flagged: self.flagged(i),
                })
                .collect(),
            flagged: (0..n)
                .filter(|i| self.flagged(*i))
                .map(|i| FlaggedMonth {
                    month: self.label(i),
                    flag: self.flag.text[i].clone(),
                })
                .collect(),
            line: (!line.is_empty()).then(|| line.join(" ")),
            baseline_y: self
                .baseline
                .number
                .iter()
                .flatten()
                .last()
                .map(|b| round(self.y_auc(*b))),
            judged: self.baseline.number.iter().any(Option::is_some)
                || self.psi.number.iter().any(Option::is_some),
        }
    }

    /// A point per month with an AUC.
    fn points(&self, judged: &[usize]) -> Vec<AucPoint> {
        judged
            .iter()
            .map(|&i| {
                let a = self.auc.number[i].expect("judged");
                AucPoint {
                    x: round(self.x(i)),
                    y: round(self.y_auc(a)),
                    auc: format!("{a:.2}"),
                    month: self.label(i),
                    flagged: self.flagged(i),
                    flag: self.flag.text[i].clone(),
                    class: if self.complete.text[i] == "true" {
                        "judged"
                    } else {
                        "open"
                    },
                }
            })
            .collect()
    }

    /// A PSI bar per month with a PSI.
    fn bars(&self) -> Vec<PsiBar> {
        (0..self.months.text.len())
            .filter_map(|i| {
                let p = self.psi.number[i]?;
                let h = Self::PLOT_H * (p / self.psi_top).min(1.0);
                Some(PsiBar {
                    x: round(self.x(i) - self.step * 0.3),
                    w: round(self.step * 0.6),
                    y: round(Self::TOP + Self::PLOT_H - h),
                    h: round(h),
                    psi: format!("{p:.2}"),
                    month: self.label(i),
                })
            })
            .collect()
    }
}

/// To a tenth, as the chart's coordinates are written.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The headline tables first, then any others in the order they were computed.
fn ordered(tables: &[Table]) -> Vec<&Table> {
    let rank = |t: &&Table| {
        [
            "cohorts",
            "activation",
            "funnel",
            "revenue",
            "playbooks",
            "playbook_follow_through",
            "model_health",
        ]
        .iter()
        .position(|n| *n == t.name)
        .unwrap_or(usize::MAX)
    };
    let mut ordered: Vec<&Table> = tables.iter().collect();
    ordered.sort_by_key(rank);
    ordered
}

/// A report table as shown: its first [`MAX_TABLE_ROWS`] rows, rates and shares as percent.
#[derive(Serialize)]
struct TableView {
    name: String,
    rows: usize,
    definitions: String,
    columns: Vec<ColumnHead>,
    body: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct ColumnHead {
    name: String,
    numeric: bool,
}

fn table(t: &Table) -> TableView {
    let cols = columns(t);
    let rows = t.rows();
    let body = (0..rows.min(MAX_TABLE_ROWS))
        .map(|row| {
            cols.iter()
                .map(|c| match c.number[row] {
                    Some(v) if is_ratio(&c.name) => percent(v),
                    _ => c.text[row].clone(),
                })
                .collect()
        })
        .collect();
    TableView {
        name: t.name.clone(),
        rows,
        definitions: t.definitions.clone(),
        columns: cols
            .iter()
            .map(|c| ColumnHead {
                name: c.name.clone(),
                numeric: c.numeric,
            })
            .collect(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Text {
        text: &'static str,
    }

    #[test]
    fn escapes_markup_and_reads_windows() {
        let text = Text {
            text: "<a href=\"x/y\">&'",
        };
        let page = |name| render_page(&[(name, "{{ text }}")], name, &text);
        assert_eq!(page("t.html"), "&lt;a href=&quot;x/y&quot;&gt;&amp;&#39;");
        assert_eq!(page("t.txt"), text.text);
        assert_eq!(window_days("reached_green_14d_rate"), Some(14));
        assert_eq!(window_days("trial_to_paid_30d_rate"), Some(30));
        assert_eq!(window_days("trial_to_paid_rate"), None);
        assert_eq!(shade(0.0, GREEN), "#ffffff");
        assert_eq!(shade(1.0, GREEN), "#2f9e5b");
    }
}

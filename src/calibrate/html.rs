//! The calibration as one self-contained HTML page (`calibration.html`), drawn from a
//! [`Calibration`] alone. It follows the report page's conventions and shares its head,
//! stylesheet and template settings (`report::html::render_page`): inline CSS and inline SVG, no
//! scripts, fonts, images or links to fetch, so it can be mailed or opened offline. Leadership
//! and analysts read it to decide whether to adopt the suggested points, so every figure is
//! shown for the current config and the suggestion side by side, and every chart also has its
//! numbers in a table.
//!
//! The page is `templates/calibration.html`, rendered from a [`Page`] this module computes:
//! every figure formatted (a missing one is `None`, which the page shows as a dash) and every
//! chart's coordinates in place. The markup and the words are in the templates.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Serialize;

use pqlsync_calibrate::types::*;
use pqlsync_sql::report::html::render_page;

/// Current in a muted slate and suggested in the report's blue, so the suggestion stands out
/// and the two read the same way in every chart.
const CURRENT: &str = "#9aa3b2";
const SUGGESTED: &str = "#3b6fb6";

/// Bands with fewer holdout trials than this are drawn faint: their rate is mostly noise.
const FEW_TRIALS: usize = 30;

/// This page's templates; the shared head and stylesheet come with `render_page`.
const TEMPLATES: [(&str, &str); 4] = [
    (
        "calibration.html",
        include_str!("templates/calibration.html"),
    ),
    ("calibration.css", include_str!("templates/calibration.css")),
    (
        "compared_head.html",
        include_str!("templates/compared_head.html"),
    ),
    (
        "compared_cells.html",
        include_str!("templates/compared_cells.html"),
    ),
];

/// The whole page.
pub fn render(c: &Calibration) -> String {
    render_page(&TEMPLATES, "calibration.html", &Page::of(c))
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn count(n: usize) -> String {
    pqlsync_core::fmt::thousands(n as i64)
}

fn lift(v: f64) -> String {
    format!("{v:.2}×")
}

fn auc(v: f64) -> String {
    format!("{v:.3}")
}

/// `+5`, `0`, `-30`: points as the scoring explanations write them.
fn points(p: i32) -> String {
    if p > 0 {
        format!("+{p}")
    } else {
        p.to_string()
    }
}

/// A number people set by hand (a penalty, `per`) as written, a computed one to a few digits.
fn short(x: f64) -> String {
    let plain = pqlsync_core::fmt::trim_float(x);
    if plain.len() <= 6 {
        plain
    } else if x != 0.0 && x.abs() < 0.01 {
        format!("{x:.1e}")
    } else {
        format!("{x:.2}")
    }
}

fn day(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// An exclusion key in words, with the trial day for its `k`; a key this page does not know
/// reads as its words: `some_reason_k` → `some reason 3`.
fn reason(key: &str, at_day: u32) -> String {
    match key {
        "paying_by_day_k" => return format!("already paying by day {at_day}"),
        "horizon_open" => return "too recent to know (horizon still open)".to_string(),
        "no_trial" => return "accounts with no trial".to_string(),
        "no_features_at_day_k" => return format!("no features at day {at_day}"),
        _ => {}
    }
    key.split('_')
        .map(|w| {
            if w == "k" {
                at_day.to_string()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything `templates/calibration.html` shows.
#[derive(Serialize)]
struct Page<'a> {
    as_of: String,
    from: String,
    to: String,
    at_day: u32,
    horizon: u32,
    version: &'static str,
    seconds: String,
    feature_seconds: String,
    training: SplitView,
    holdout: SplitView,
    base_rate: String,
    excluded: Vec<Excluded>,
    kpis: Kpis,
    warnings: &'a [Warning],
    deciles: Vec<Row<u8>>,
    gains: Gains,
    tiers: Tiers<'a>,
    thresholds: Vec<Row<&'a str>>,
    bands: Bands,
    signals: Vec<SignalRow<'a>>,
    candidates: Vec<CandidateRow<'a>>,
}

impl<'a> Page<'a> {
    fn of(c: &'a Calibration) -> Self {
        let h = &c.holdout;
        Page {
            as_of: c.as_of.to_string(),
            from: c.from.to_string(),
            to: c.to.to_string(),
            at_day: c.at_day,
            horizon: c.horizon,
            version: env!("CARGO_PKG_VERSION"),
            seconds: format!("{:.1}", c.seconds),
            feature_seconds: format!("{:.1}", c.feature_seconds),
            training: SplitView::of(&c.training),
            holdout: SplitView::of(&Split {
                trials: h.trials,
                conversions: h.conversions,
                first_start: h.first_start,
                last_start: h.last_start,
            }),
            base_rate: pct(h.base_rate),
            excluded: c
                .excluded
                .iter()
                .map(|(key, n)| Excluded {
                    count: count(*n),
                    reason: reason(key, c.at_day),
                })
                .collect(),
            kpis: Kpis::of(c),
            warnings: &c.warnings,
            deciles: deciles(c),
            gains: Gains::of(c),
            tiers: tiers(c),
            thresholds: thresholds(c),
            bands: Bands::of(c),
            signals: c.signals.iter().map(SignalRow::of).collect(),
            candidates: c.candidates.iter().map(CandidateRow::of).collect(),
        }
    }
}

/// Trials and conversions of a split, and its first and last trial start.
#[derive(Serialize)]
struct SplitView {
    trials: String,
    conversions: String,
    first: Option<String>,
    last: Option<String>,
}

impl SplitView {
    fn of(s: &Split) -> Self {
        SplitView {
            trials: count(s.trials),
            conversions: count(s.conversions),
            first: day(s.first_start),
            last: day(s.last_start),
        }
    }
}

#[derive(Serialize)]
struct Excluded {
    count: String,
    reason: String,
}

/// The headline cards' figures.
#[derive(Serialize)]
struct Kpis {
    trials: String,
    conversions: String,
    rate: Option<String>,
    auc_current: Option<String>,
    auc_suggested: Option<String>,
    /// Suggested minus current AUC, signed.
    auc_change: Option<String>,
    double_odds: String,
    odds_per_point: String,
    penalty: String,
    penalties: Vec<PenaltyView>,
}

#[derive(Serialize)]
struct PenaltyView {
    penalty: String,
    log_loss: String,
}

impl Kpis {
    fn of(c: &Calibration) -> Self {
        let h = &c.holdout;
        Kpis {
            trials: count(c.trials),
            conversions: count(c.conversions),
            rate: (c.trials > 0).then(|| pct(c.conversions as f64 / c.trials as f64)),
            auc_current: h.auc_current.map(auc),
            auc_suggested: h.auc_suggested.map(auc),
            auc_change: h
                .auc_current
                .zip(h.auc_suggested)
                .map(|(a, b)| format!("{:+.3}", b - a)),
            double_odds: short((c.scale.points_to_double_odds * 10.0).round() / 10.0),
            odds_per_point: format!("{:.3}", c.scale.odds_per_point),
            penalty: short(c.penalty),
            penalties: c
                .penalties
                .iter()
                .map(|p| PenaltyView {
                    penalty: short(p.penalty),
                    log_loss: format!("{:.4}", p.holdout_log_loss),
                })
                .collect(),
        }
    }
}

/// A row of a comparison table (`templates/compared_head.html`): its heading, then the current
/// side's cells and the suggested side's. A missing figure is `None`, and so is every cell of a
/// side that has no such row.
#[derive(Serialize)]
struct Row<H> {
    head: H,
    sides: [Vec<Option<String>>; 2],
}

/// A side's cells, or `width` missing ones when the side has no such row.
fn side(cells: Option<Vec<Option<String>>>, width: usize) -> Vec<Option<String>> {
    cells.unwrap_or_else(|| vec![None; width])
}

fn deciles(c: &Calibration) -> Vec<Row<u8>> {
    let sides = [&c.deciles.current, &c.deciles.suggested];
    let numbers: BTreeSet<u8> = sides
        .iter()
        .flat_map(|s| s.iter().map(|d| d.decile))
        .collect();
    let cells = |d: &Decile| {
        vec![
            Some(format!("{}–{}", d.min_score, d.max_score)),
            Some(count(d.trials)),
            Some(count(d.conversions)),
            Some(pct(d.rate)),
            d.lift.map(lift),
            Some(pct(d.cumulative_conversion_share)),
        ]
    };
    numbers
        .into_iter()
        .map(|n| Row {
            head: n,
            sides: sides.map(|s| side(s.iter().find(|d| d.decile == n).map(cells), 6)),
        })
        .collect()
}

/// The share of conversions at share `x` of trials, read off a gains curve.
fn share_at(points: &[(f64, f64)], x: f64) -> Option<f64> {
    points
        .windows(2)
        .find(|w| w[0].0 <= x && x <= w[1].0)
        .map(|w| {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if x1 > x0 {
                y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            } else {
                y1
            }
        })
}

/// The cumulative gains chart: both curves over a grid of fifths, the diagonal, a legend.
#[derive(Serialize)]
struct Gains {
    /// The share of conversions in the top 20% of trials, current and suggested.
    top20: [Option<String>; 2],
    width: String,
    height: String,
    left: String,
    right: String,
    top: String,
    bottom: String,
    /// Where the share-of-conversions labels end, and the share-of-trials labels sit.
    label_x: String,
    tick_y: String,
    grid: Vec<GainsGrid>,
    /// The axes' titles.
    trials_x: String,
    trials_y: String,
    conversions_y: String,
    /// The diagonal, from (0, 0) to (1, 1).
    random: [String; 4],
    curves: Vec<Curve>,
    legend: Vec<Legend>,
}

#[derive(Serialize)]
struct GainsGrid {
    x: String,
    y: String,
    label_y: String,
    /// The share both lines stand for, in percent.
    percent: String,
}

#[derive(Serialize)]
struct Curve {
    side: &'static str,
    points: String,
    colour: &'static str,
    stroke: String,
    auc: Option<String>,
}

/// A legend line: `current`, `suggested` (with its AUC) or `random`.
#[derive(Serialize)]
struct Legend {
    side: &'static str,
    x1: String,
    x2: String,
    y: String,
    colour: &'static str,
    stroke: String,
    dash: &'static str,
    text_x: String,
    text_y: String,
    auc: Option<String>,
}

impl Gains {
    fn of(c: &Calibration) -> Self {
        let (width, height) = (640.0, 440.0);
        let (left, right, top, bottom) = (58.0, 16.0, 14.0, 50.0);
        let (pw, ph) = (width - left - right, height - top - bottom);
        let x = |s: f64| left + pw * s.clamp(0.0, 1.0);
        let y = |s: f64| top + ph * (1.0 - s.clamp(0.0, 1.0));
        let grid = (0..=5)
            .map(|i| {
                let s = f64::from(i) / 5.0;
                GainsGrid {
                    x: tenth(x(s)),
                    y: tenth(y(s)),
                    label_y: tenth(y(s) + 4.0),
                    percent: format!("{:.0}", s * 100.0),
                }
            })
            .collect();
        let aucs = [c.holdout.auc_current, c.holdout.auc_suggested].map(|a| a.map(auc));
        // Current is drawn wide and under the suggestion, so where the two coincide both show.
        let curves = [&c.gains.current, &c.gains.suggested]
            .into_iter()
            .zip(Self::LINES)
            .zip(aucs.clone())
            .map(|((points, (side, colour, stroke)), auc)| Curve {
                side,
                points: points
                    .iter()
                    .map(|&(a, b)| format!("{},{}", tenth(x(a)), tenth(y(b))))
                    .collect::<Vec<_>>()
                    .join(" "),
                colour,
                stroke: stroke.to_string(),
                auc,
            })
            .collect();
        Gains {
            top20: [&c.gains.current, &c.gains.suggested].map(|p| share_at(p, 0.2).map(pct)),
            width: width.to_string(),
            height: height.to_string(),
            left: left.to_string(),
            right: tenth(x(1.0)),
            top: top.to_string(),
            bottom: tenth(y(0.0)),
            label_x: tenth(left - 6.0),
            tick_y: tenth(y(0.0) + 16.0),
            grid,
            trials_x: tenth(x(0.5)),
            trials_y: tenth(height - 8.0),
            conversions_y: tenth(y(0.5)),
            random: [x(0.0), y(0.0), x(1.0), y(1.0)].map(tenth),
            curves,
            // The legend sits in the empty lower right, below the diagonal.
            legend: Self::legend(x(0.56), y(0.22), aucs),
        }
    }

    /// Each curve's class suffix, colour and width; then the diagonal's.
    const LINES: [(&'static str, &'static str, f64); 3] = [
        ("current", CURRENT, 5.0),
        ("suggested", SUGGESTED, 2.5),
        ("random", "#5b6475", 1.5),
    ];

    /// The legend's lines from (`lx`, `ly`) down.
    fn legend(lx: f64, ly: f64, aucs: [Option<String>; 2]) -> Vec<Legend> {
        Self::LINES
            .into_iter()
            .zip(aucs.into_iter().map(Some).chain([None]))
            .enumerate()
            .map(|(i, ((side, colour, stroke), auc))| {
                let ry = ly + i as f64 * 22.0;
                Legend {
                    side,
                    x1: tenth(lx),
                    x2: tenth(lx + 28.0),
                    y: tenth(ry),
                    colour,
                    stroke: stroke.to_string(),
                    dash: if side == "random" { "5 4" } else { "" },
                    text_x: tenth(lx + 36.0),
                    text_y: tenth(ry + 4.0),
                    auc: auc.flatten(),
                }
            })
            .collect()
    }
}

/// The tiers table: each model's thresholds for its heading, and a row per tier.
#[derive(Serialize)]
struct Tiers<'a> {
    current: TierThresholds,
    suggested: TierThresholds,
    rows: Vec<Row<&'a str>>,
}

#[derive(Serialize)]
struct TierThresholds {
    yellow: u8,
    green: u8,
}

fn tiers(c: &Calibration) -> Tiers<'_> {
    let t = &c.tiers;
    // Green, Yellow, Red as the tables list them; a tier only one side has still gets its row.
    let mut names: Vec<&str> = Vec::new();
    for row in t.current.rows.iter().chain(&t.suggested.rows) {
        if !names.contains(&row.tier.as_str()) {
            names.push(&row.tier);
        }
    }
    let cells = |r: &TierRow| {
        vec![
            Some(count(r.trials)),
            Some(pct(r.share)),
            Some(count(r.conversions)),
            r.rate.map(pct),
            r.lift.map(lift),
            Some(pct(r.conversion_share)),
        ]
    };
    let thresholds = |table: &TierTable| TierThresholds {
        yellow: table.yellow,
        green: table.green,
    };
    Tiers {
        current: thresholds(&t.current),
        suggested: thresholds(&t.suggested),
        rows: names
            .into_iter()
            .map(|name| Row {
                head: name,
                sides: [&t.current, &t.suggested]
                    .map(|table| side(table.rows.iter().find(|r| r.tier == name).map(cells), 6)),
            })
            .collect(),
    }
}

/// The config's other PQL thresholds, moved to the suggested scale with what each flags.
fn thresholds(c: &Calibration) -> Vec<Row<&str>> {
    c.thresholds
        .iter()
        .map(|k| {
            let t = &k.threshold;
            let cells = |value: u8, f: &Flagged| {
                vec![
                    Some(value.to_string()),
                    Some(count(f.trials)),
                    Some(pct(f.share)),
                    f.rate.map(pct),
                ]
            };
            Row {
                head: k.key.as_str(),
                sides: [
                    cells(t.current, &t.current_flagged),
                    cells(t.suggested, &t.suggested_flagged),
                ],
            }
        })
        .collect()
}

/// A rate axis reaching `v` in at most five round steps: its top and its number of steps.
fn rate_axis(v: f64) -> (f64, u32) {
    for step in [0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25] {
        let n = (v / step).ceil().max(1.0);
        if n <= 5.0 {
            return (n * step, n as u32);
        }
    }
    (1.0, 4)
}

fn axis_pct(v: f64) -> String {
    let p = v * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// The score bands chart, a panel per model with the same axes, and its table.
#[derive(Serialize)]
struct Bands {
    few_trials: usize,
    width: String,
    height: String,
    /// Where the panels' axis titles sit.
    title_y: String,
    panels: Vec<Panel>,
    rows: Vec<Row<BandKey>>,
}

#[derive(Serialize)]
struct BandKey {
    low: u8,
    high: u8,
}

/// One model's panel.
#[derive(Serialize)]
struct Panel {
    side: &'static str,
    colour: &'static str,
    /// The plot's left and right edges, where the rate labels end, and the axis title's middle.
    x: String,
    right: String,
    label_x: String,
    title_x: String,
    grid: Vec<RateGrid>,
    ticks: Vec<ScoreTick>,
    tick_y: String,
    bars: Vec<BandBar>,
    /// The predicted rates joined up, when there are at least two.
    line: Option<String>,
    circles: Vec<Predicted>,
}

#[derive(Serialize)]
struct RateGrid {
    y: String,
    label_y: String,
    label: String,
}

#[derive(Serialize)]
struct ScoreTick {
    x: String,
    score: u32,
}

/// A band's actual rate; `few` when it has fewer than [`FEW_TRIALS`] trials.
#[derive(Serialize)]
struct BandBar {
    few: bool,
    rate: String,
    x: String,
    y: String,
    w: String,
    h: String,
    low: u8,
    high: u8,
    conversions: String,
    trials: String,
    actual: String,
}

#[derive(Serialize)]
struct Predicted {
    x: String,
    y: String,
    low: u8,
    high: u8,
    predicted: String,
}

/// The bands chart's shared scales: rates up to `ymax` in `steps`, scores up to `score_max`.
struct BandScale {
    ymax: f64,
    steps: u32,
    score_max: f64,
}

impl BandScale {
    const WIDTH: f64 = 960.0;
    const HEIGHT: f64 = 300.0;
    const PANEL: f64 = Self::WIDTH / 2.0;
    const LEFT: f64 = 52.0;
    const RIGHT: f64 = 18.0;
    const TOP: f64 = 30.0;
    const BOTTOM: f64 = 42.0;
    const PW: f64 = Self::PANEL - Self::LEFT - Self::RIGHT;
    const PH: f64 = Self::HEIGHT - Self::TOP - Self::BOTTOM;

    fn y(&self, r: f64) -> f64 {
        Self::TOP + Self::PH * (1.0 - (r / self.ymax).clamp(0.0, 1.0))
    }

    /// Where `score` sits on a panel whose plot starts at `ox`.
    fn x(&self, ox: f64, score: f64) -> f64 {
        ox + Self::PW * (score / self.score_max).clamp(0.0, 1.0)
    }

    /// The `i`th panel: `bands` of the model `side`, drawn in `colour`.
    fn panel(&self, i: usize, side: &'static str, colour: &'static str, bands: &[Band]) -> Panel {
        let ox = i as f64 * Self::PANEL + Self::LEFT;
        let grid = (0..=self.steps)
            .map(|k| {
                let r = self.ymax * f64::from(k) / f64::from(self.steps);
                RateGrid {
                    y: tenth(self.y(r)),
                    label_y: tenth(self.y(r) + 4.0),
                    label: axis_pct(r),
                }
            })
            .collect();
        let circles = self.predicted(ox, bands);
        Panel {
            side,
            colour,
            x: tenth(ox),
            right: tenth(ox + Self::PW),
            label_x: tenth(ox - 6.0),
            title_x: tenth(ox + Self::PW / 2.0),
            grid,
            ticks: self.ticks(ox, bands),
            tick_y: tenth(self.y(0.0) + 15.0),
            bars: self.bars(ox, bands),
            // The predicted rates joined up, so the fitted curve reads as one line.
            line: (circles.len() > 1).then(|| {
                let coords: Vec<String> =
                    circles.iter().map(|p| format!("{},{}", p.x, p.y)).collect();
                coords.join(" ")
            }),
            circles,
        }
    }

    /// A tick at each band's low score, and at the top score.
    fn ticks(&self, ox: f64, bands: &[Band]) -> Vec<ScoreTick> {
        let top = self.score_max as u32 - 1;
        let mut ticks: BTreeSet<u32> = bands.iter().map(|b| u32::from(b.low)).collect();
        ticks.insert(top);
        ticks
            .into_iter()
            .map(|t| {
                // The last band ends at the top score inclusive; its tick sits at the axis end.
                let at = if t == top {
                    self.score_max
                } else {
                    f64::from(t)
                };
                ScoreTick {
                    x: tenth(self.x(ox, at)),
                    score: t,
                }
            })
            .collect()
    }

    /// A bar per band with trials and an actual rate.
    fn bars(&self, ox: f64, bands: &[Band]) -> Vec<BandBar> {
        bands
            .iter()
            .filter(|b| b.trials > 0)
            .filter_map(|b| {
                let actual = b.actual?;
                let (x0, x1) = (
                    self.x(ox, f64::from(b.low)),
                    self.x(ox, f64::from(b.high) + 1.0),
                );
                Some(BandBar {
                    few: b.trials < FEW_TRIALS,
                    rate: format!("{actual:.4}"),
                    x: tenth(x0 + 2.0),
                    y: tenth(self.y(actual)),
                    w: tenth((x1 - x0 - 4.0).max(1.0)),
                    h: tenth(self.y(0.0) - self.y(actual)),
                    low: b.low,
                    high: b.high,
                    conversions: count(b.conversions),
                    trials: count(b.trials),
                    actual: pct(actual),
                })
            })
            .collect()
    }

    /// A circle per band with a predicted rate, at the band's middle.
    fn predicted(&self, ox: f64, bands: &[Band]) -> Vec<Predicted> {
        bands
            .iter()
            .filter_map(|b| {
                let mid = (f64::from(b.low) + f64::from(b.high) + 1.0) / 2.0;
                b.predicted.map(|p| Predicted {
                    x: tenth(self.x(ox, mid)),
                    y: tenth(self.y(p)),
                    low: b.low,
                    high: b.high,
                    predicted: pct(p),
                })
            })
            .collect()
    }
}

/// A coordinate as the charts write it, to a tenth.
fn tenth(v: f64) -> String {
    format!("{v:.1}")
}

impl Bands {
    fn of(c: &Calibration) -> Self {
        let sides = [&c.bands.current, &c.bands.suggested];
        let top_rate = sides
            .iter()
            .flat_map(|bands| bands.iter())
            .flat_map(|b| [b.actual.filter(|_| b.trials > 0), b.predicted])
            .flatten()
            .fold(0.0, f64::max);
        let (ymax, steps) = rate_axis(top_rate);
        let score_max = sides
            .iter()
            .flat_map(|bands| bands.iter().map(|b| f64::from(b.high) + 1.0))
            .fold(100.0, f64::max);
        let scale = BandScale {
            ymax,
            steps,
            score_max,
        };
        let keys: BTreeSet<(u8, u8)> = sides
            .iter()
            .flat_map(|bands| bands.iter().map(|b| (b.low, b.high)))
            .collect();
        let cells = |b: &Band| {
            vec![
                Some(count(b.trials)),
                Some(count(b.conversions)),
                b.actual.filter(|_| b.trials > 0).map(pct),
                b.predicted.map(pct),
            ]
        };
        Bands {
            few_trials: FEW_TRIALS,
            width: BandScale::WIDTH.to_string(),
            height: BandScale::HEIGHT.to_string(),
            title_y: format!("{:.1}", BandScale::HEIGHT - 6.0),
            panels: [("current", CURRENT), ("suggested", SUGGESTED)]
                .into_iter()
                .zip(sides)
                .enumerate()
                .map(|(i, ((side, colour), bands))| scale.panel(i, side, colour, bands))
                .collect(),
            rows: keys
                .into_iter()
                .map(|(low, high)| Row {
                    head: BandKey { low, high },
                    sides: sides.map(|bands| {
                        let band = bands.iter().find(|b| (b.low, b.high) == (low, high));
                        side(band.map(cells), 4)
                    }),
                })
                .collect(),
        }
    }
}

/// An operator as people read it: `>=` → `≥`, `not_in` → `not in`.
fn op_text(op: &str) -> String {
    match op {
        ">=" => "≥".into(),
        "<=" => "≤".into(),
        "!=" => "≠".into(),
        "==" => "=".into(),
        other => other.replace('_', " "),
    }
}

/// A configured value as `[scoring]` would show it, with a `between` range as `lo–hi`.
fn value_text(op: &str, v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), pqlsync_core::fmt::trim_float),
        Value::String(s) => s.clone(),
        Value::Array(items) if op == "between" && items.len() == 2 => format!(
            "{}–{}",
            value_text(op, &items[0]),
            value_text(op, &items[1])
        ),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| value_text(op, i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// One configured signal's row: its rule, points and evidence.
#[derive(Serialize)]
struct SignalRow<'a> {
    status: &'static str,
    group: &'a str,
    feature: &'a str,
    op: String,
    value: Option<String>,
    fire_on_null: bool,
    per: Option<String>,
    max_points: Option<i32>,
    label: Option<&'a str>,
    current: String,
    suggested: String,
    /// The points' change, when they changed.
    change: Option<String>,
    /// A per-unit signal's suggested cap, when it moved.
    suggested_max: Option<i32>,
    /// The points or the cap changed.
    changed: bool,
    odds_ratio: Option<String>,
    /// The 80% bootstrap interval's ends.
    interval: Option<[String; 2]>,
    fired: String,
    conversions: String,
    /// The conversion rate of the trials it fired for.
    fired_rate: Option<String>,
    auc: Option<String>,
    lift: Option<String>,
}

impl<'a> SignalRow<'a> {
    fn of(s: &'a SignalReport) -> Self {
        // A per-unit signal's cap can move too; it counts as a change like the points.
        let max_changed = s.per.is_some()
            && s.suggested_max_points.is_some()
            && s.suggested_max_points != s.max_points;
        let points_changed = s.suggested_points != s.current_points;
        SignalRow {
            status: s.status.as_str(),
            group: &s.group,
            feature: &s.feature,
            op: op_text(&s.op),
            value: s.value.as_ref().map(|v| value_text(&s.op, v)),
            fire_on_null: s.fire_on_null,
            per: s.per.map(short),
            max_points: s.max_points,
            label: s.label.as_deref(),
            current: points(s.current_points),
            suggested: points(s.suggested_points),
            change: points_changed.then(|| points(s.suggested_points - s.current_points)),
            suggested_max: s.suggested_max_points.filter(|_| max_changed),
            changed: points_changed || max_changed,
            odds_ratio: s.odds_ratio.map(|o| format!("{o:.2}")),
            interval: s
                .ci_low
                .zip(s.ci_high)
                .map(|(lo, hi)| [format!("{lo:+.1}"), format!("{hi:+.1}")]),
            fired: count(s.fired_trials),
            conversions: count(s.fired_conversions),
            fired_rate: (s.fired_trials > 0)
                .then(|| pct(s.fired_conversions as f64 / s.fired_trials as f64)),
            auc: s.holdout_auc.map(auc),
            lift: s.holdout_lift.map(lift),
        }
    }
}

/// An unscored column at its best single threshold.
#[derive(Serialize)]
struct CandidateRow<'a> {
    feature: &'a str,
    op: String,
    value: Option<String>,
    coverage: String,
    fired: String,
    conversions: String,
    rate: String,
    lift: String,
    phi: String,
}

impl<'a> CandidateRow<'a> {
    fn of(k: &'a Candidate) -> Self {
        CandidateRow {
            feature: &k.feature,
            op: op_text(&k.op),
            value: k.value.map(pqlsync_core::fmt::trim_float),
            coverage: pct(k.coverage),
            fired: count(k.fired_trials),
            conversions: count(k.fired_conversions),
            rate: pct(k.rate),
            lift: lift(k.lift),
            phi: format!("{:.3}", k.phi),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    fn signal(
        group: &str,
        feature: &str,
        op: &str,
        value: Option<serde_json::Value>,
    ) -> SignalReport {
        SignalReport {
            group: group.into(),
            feature: feature.into(),
            op: op.into(),
            value,
            label: None,
            per: None,
            max_points: None,
            suggested_max_points: None,
            fire_on_null: false,
            current_points: 0,
            suggested_points: 0,
            odds_ratio: None,
            ci_low: None,
            ci_high: None,
            fired_trials: 0,
            fired_conversions: 0,
            holdout_auc: None,
            holdout_lift: None,
            status: Status::Ok,
        }
    }

    /// Fills in a fitted signal's figures.
    #[allow(clippy::too_many_arguments)]
    fn fitted(
        mut s: SignalReport,
        current: i32,
        suggested: i32,
        odds: f64,
        ci: (f64, f64),
        fired: (usize, usize),
        auc: f64,
        lift: f64,
    ) -> SignalReport {
        s.current_points = current;
        s.suggested_points = suggested;
        s.odds_ratio = Some(odds);
        s.ci_low = Some(ci.0);
        s.ci_high = Some(ci.1);
        s.fired_trials = fired.0;
        s.fired_conversions = fired.1;
        s.holdout_auc = Some(auc);
        s.holdout_lift = Some(lift);
        s
    }

    /// The holdout's deciles for a score converting at `rates`, decile 1 first.
    fn decile_table(rates: [f64; 10], base: f64, scores: [(u8, u8); 10]) -> Vec<Decile> {
        let sizes = [121, 120, 120, 120, 120, 120, 121, 120, 120, 121];
        let conversions: Vec<usize> = rates
            .iter()
            .zip(sizes)
            .map(|(r, n)| (r * n as f64).round() as usize)
            .collect();
        let total: usize = conversions.iter().sum();
        let mut cumulative = 0;
        (0..10)
            .map(|i| {
                cumulative += conversions[i];
                let rate = conversions[i] as f64 / sizes[i] as f64;
                Decile {
                    decile: i as u8 + 1,
                    min_score: scores[i].0,
                    max_score: scores[i].1,
                    trials: sizes[i],
                    conversions: conversions[i],
                    rate,
                    lift: Some(rate / base),
                    cumulative_conversion_share: cumulative as f64 / total as f64,
                }
            })
            .collect()
    }

    /// A gains curve of 50 points bowing up by `power` (1 is random).
    fn curve(power: f64) -> Vec<(f64, f64)> {
        (0..50)
            .map(|i| {
                let x = f64::from(i) / 49.0;
                (x, 1.0 - (1.0 - x).powf(power))
            })
            .collect()
    }

    /// Bands of 10 points, predicted by a logistic `(intercept, slope)` in the score.
    fn band_table(actual: [Option<f64>; 10], trials: [usize; 10], fit: (f64, f64)) -> Vec<Band> {
        (0..10)
            .map(|i| {
                let low = i as u8 * 10;
                let high = if i == 9 { 100 } else { low + 9 };
                let mid = f64::from(low) + 5.0;
                Band {
                    low,
                    high,
                    trials: trials[i],
                    conversions: actual[i].map_or(0, |a| (a * trials[i] as f64).round() as usize),
                    actual: actual[i].filter(|_| trials[i] > 0),
                    predicted: Some(1.0 / (1.0 + (-(fit.0 + fit.1 * mid)).exp())),
                }
            })
            .collect()
    }

    fn tier(tier: &str, trials: usize, conversions: usize, holdout: (usize, usize)) -> TierRow {
        let rate = (trials > 0).then(|| conversions as f64 / trials as f64);
        let base = holdout.1 as f64 / holdout.0 as f64;
        TierRow {
            tier: tier.into(),
            trials,
            share: trials as f64 / holdout.0 as f64,
            conversions,
            rate,
            lift: rate.map(|r| r / base),
            conversion_share: conversions as f64 / holdout.1 as f64,
        }
    }

    /// A realistic calibration of the demo's default signals over nine months of trials.
    pub(crate) fn sample() -> Calibration {
        let holdout = (1203, 133);
        let base = 133.0 / 1203.0;
        let mut per_unit = fitted(
            signal("usage", "pricing_page_views_14d", ">=", Some(json!(1))),
            5,
            7,
            1.21,
            (4.1, 9.6),
            (1877, 301),
            0.604,
            1.62,
        );
        per_unit.per = Some(1.0);
        per_unit.max_points = Some(15);
        per_unit.suggested_max_points = Some(21);
        let mut free_mail = fitted(
            signal("fit", "free_email_domain", "is_true", None),
            -30,
            -26,
            0.41,
            (-33.8, -18.2),
            (1422, 71),
            0.571,
            0.45,
        );
        free_mail.label = Some("Free-mail domain (gmail, outlook, …)".into());
        let mut inactive = fitted(
            signal("usage", "days_since_last_activity", ">=", Some(json!(14))),
            -30,
            -34,
            0.22,
            (-45.0, -24.7),
            (960, 19),
            0.583,
            0.18,
        );
        inactive.fire_on_null = true;
        let mut dropped = fitted(
            signal("fit", "seats", ">=", Some(json!(10))),
            20,
            0,
            1.06,
            (-3.9, 6.8),
            (388, 47),
            0.508,
            1.09,
        );
        dropped.status = Status::Dropped;
        let mut thin = fitted(
            signal("usage", "paid_feature_events_14d", ">=", Some(json!(1))),
            15,
            15,
            2.9,
            (-2.0, 41.0),
            (41, 6),
            0.512,
            1.31,
        );
        thin.status = Status::InsufficientData;
        thin.holdout_auc = None;
        let signals = vec![
            fitted(
                signal("fit", "employees", "between", Some(json!([10, 49]))),
                20,
                17,
                1.71,
                (11.0, 23.5),
                (1310, 176),
                0.566,
                1.33,
            ),
            fitted(
                signal("fit", "employees", "between", Some(json!([50, 999]))),
                35,
                38,
                2.63,
                (29.2, 46.0),
                (702, 141),
                0.581,
                1.87,
            ),
            fitted(
                signal("fit", "employees", ">=", Some(json!(1000))),
                30,
                22,
                1.98,
                (12.5, 31.0),
                (118, 21),
                0.521,
                1.52,
            ),
            fitted(
                signal(
                    "fit",
                    "industry",
                    "in",
                    Some(json!([
                        "software",
                        "saas",
                        "technology",
                        "internet",
                        "financial services",
                        "fintech",
                        "marketing",
                        "e-commerce"
                    ])),
                ),
                30,
                24,
                1.92,
                (17.8, 30.1),
                (2214, 341),
                0.612,
                1.39,
            ),
            free_mail,
            dropped,
            fitted(
                signal("usage", "teammates_invited_14d", ">=", Some(json!(2))),
                25,
                36,
                3.41,
                (29.9, 42.8),
                (1054, 262),
                0.664,
                2.25,
            ),
            fitted(
                signal("usage", "integrations_connected", ">=", Some(json!(1))),
                20,
                20,
                2.1,
                (14.2, 26.3),
                (1530, 268),
                0.618,
                1.58,
            ),
            per_unit,
            thin,
            fitted(
                signal("usage", "active_days_14d", ">=", Some(json!(5))),
                10,
                14,
                1.84,
                (8.8, 19.9),
                (2103, 352),
                0.642,
                1.51,
            ),
            inactive,
        ];
        let current_rates = [0.33, 0.25, 0.19, 0.14, 0.11, 0.08, 0.05, 0.04, 0.03, 0.02];
        let suggested_rates = [0.42, 0.29, 0.2, 0.13, 0.09, 0.06, 0.04, 0.03, 0.02, 0.01];
        let mut excluded = BTreeMap::new();
        excluded.insert("horizon_open".to_string(), 612);
        excluded.insert("no_features_at_day_k".to_string(), 37);
        excluded.insert("no_trial".to_string(), 1904);
        excluded.insert("paying_by_day_k".to_string(), 88);
        Calibration {
            as_of: date("2026-11-20"),
            from: date("2026-01-01"),
            to: date("2026-10-06"),
            at_day: 3,
            horizon: 45,
            trials: 4812,
            conversions: 531,
            excluded,
            training: Split {
                trials: 3609,
                conversions: 398,
                first_start: Some(date("2026-01-01")),
                last_start: Some(date("2026-07-29")),
            },
            holdout: Holdout {
                trials: holdout.0,
                conversions: holdout.1,
                first_start: Some(date("2026-07-29")),
                last_start: Some(date("2026-10-06")),
                base_rate: base,
                auc_current: Some(0.712),
                auc_suggested: Some(0.768),
            },
            penalty: 1.0,
            penalties: [(0.01, 0.3391), (0.1, 0.3342), (1.0, 0.3307), (10.0, 0.3329)]
                .into_iter()
                .map(|(penalty, holdout_log_loss)| PenaltyTrial {
                    penalty,
                    holdout_log_loss,
                })
                .collect(),
            scale: Scale {
                fit_weight: 0.4,
                usage_weight: 0.6,
                log_odds_per_point: 0.0597,
                odds_per_point: 1.0615,
                points_to_double_odds: 11.61,
                intercept: -4.02,
            },
            signals,
            tiers: TierTables {
                current: TierTable {
                    yellow: 40,
                    green: 70,
                    rows: vec![
                        tier("green", 201, 58, holdout),
                        tier("yellow", 463, 53, holdout),
                        tier("red", 539, 22, holdout),
                    ],
                },
                suggested: TierTable {
                    yellow: 40,
                    green: 65,
                    rows: vec![
                        tier("green", 176, 67, holdout),
                        tier("yellow", 402, 48, holdout),
                        tier("red", 625, 18, holdout),
                    ],
                },
            },
            thresholds: vec![KeyedThreshold {
                key: "routing.hot_pql_score".into(),
                threshold: Threshold {
                    current: 85,
                    suggested: 31,
                    current_flagged: Flagged {
                        trials: 48,
                        share: 0.04,
                        rate: Some(0.41),
                    },
                    suggested_flagged: Flagged {
                        trials: 47,
                        share: 0.039,
                        rate: Some(0.62),
                    },
                },
            }],
            deciles: Compared {
                current: decile_table(
                    current_rates,
                    base,
                    [
                        (78, 100),
                        (69, 77),
                        (61, 68),
                        (54, 60),
                        (47, 53),
                        (40, 46),
                        (33, 39),
                        (25, 32),
                        (15, 24),
                        (0, 14),
                    ],
                ),
                suggested: decile_table(
                    suggested_rates,
                    base,
                    [
                        (74, 100),
                        (64, 73),
                        (56, 63),
                        (49, 55),
                        (42, 48),
                        (36, 41),
                        (29, 35),
                        (21, 28),
                        (12, 20),
                        (0, 11),
                    ],
                ),
            },
            gains: Compared {
                current: curve(2.3),
                suggested: curve(3.0),
            },
            bands: Compared {
                current: band_table(
                    [
                        Some(0.0),
                        Some(0.02),
                        Some(0.03),
                        Some(0.05),
                        Some(0.09),
                        Some(0.12),
                        Some(0.17),
                        Some(0.24),
                        Some(0.3),
                        None,
                    ],
                    [22, 97, 141, 170, 199, 191, 167, 131, 85, 0],
                    (-4.62, 0.043),
                ),
                suggested: band_table(
                    [
                        Some(0.0),
                        Some(0.01),
                        Some(0.02),
                        Some(0.04),
                        Some(0.07),
                        Some(0.11),
                        Some(0.19),
                        Some(0.29),
                        Some(0.41),
                        Some(0.5),
                    ],
                    [48, 121, 150, 168, 181, 170, 149, 118, 82, 16],
                    (-4.85, 0.0498),
                ),
            },
            warnings: vec![
                Warning {
                    kind: "leakage".into(),
                    signals: vec!["usage paid_feature_events_14d >= 1".into()],
                    message: "paid_feature_events_14d fires for 14.6% of converting trials and \
                              0.9% of the rest: it may count use that only paying accounts \
                              have."
                        .into(),
                },
                Warning {
                    kind: "duplicate".into(),
                    signals: vec![
                        "fit free_email_domain is_true".into(),
                        "usage free_email_domain is_true".into(),
                    ],
                    message: "These signals fire for the same trials (Jaccard 1.00): their \
                              points split one effect."
                        .into(),
                },
            ],
            candidates: vec![
                Candidate {
                    feature: "api_calls_14d".into(),
                    op: ">=".into(),
                    value: Some(250.0),
                    coverage: 0.118,
                    fired_trials: 568,
                    fired_conversions: 141,
                    rate: 141.0 / 568.0,
                    lift: (141.0 / 568.0) / (531.0 / 4812.0),
                    phi: 0.187,
                },
                Candidate {
                    feature: "sso_configured".into(),
                    op: "is_true".into(),
                    value: None,
                    coverage: 0.041,
                    fired_trials: 197,
                    fired_conversions: 61,
                    rate: 61.0 / 197.0,
                    lift: (61.0 / 197.0) / (531.0 / 4812.0),
                    phi: 0.121,
                },
                Candidate {
                    feature: "seats<limit_14d".into(),
                    op: ">=".into(),
                    value: Some(0.5),
                    coverage: 0.264,
                    fired_trials: 1270,
                    fired_conversions: 203,
                    rate: 203.0 / 1270.0,
                    lift: (203.0 / 1270.0) / (531.0 / 4812.0),
                    phi: 0.094,
                },
            ],
            feature_seconds: 8.4,
            seconds: 12.9,
        }
    }

    #[test]
    fn page_has_every_part_and_nothing_to_fetch() {
        let c = sample();
        let page = render(&c);
        for id in [
            "id=\"kpis\"",
            "id=\"warnings\"",
            "id=\"deciles\"",
            "id=\"gains-chart\"",
            "id=\"tiers\"",
            "id=\"bands-chart\"",
            "id=\"bands\"",
            "id=\"signals\"",
            "id=\"candidates\"",
            "class=\"gains-random\"",
            "class=\"gains-current\"",
            "class=\"gains-suggested\"",
            "class=\"bar-actual",
            "class=\"predicted\"",
        ] {
            assert!(page.contains(id), "{id} missing");
        }
        assert_eq!(page.matches("<div class=\"kpi\"").count(), 5);
        assert_eq!(page.matches("<li class=\"warning\"").count(), 2);

        // One row per signal, in order, between the signals table's tbody tags.
        let table = &page[page.find("id=\"signals\"").unwrap()..];
        let body = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
        assert_eq!(body.matches("<tr").count(), c.signals.len());
        let at = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(at("employees between 10–49") < at("teammates_invited_14d ≥ 2"));
        assert!(body.contains("data-status=\"dropped\""));
        assert!(body.contains("insufficient data"));
        assert!(body.contains("per 1, max 15"));
        assert!(body.contains("days_since_last_activity ≥ 14 or null"));

        // Deciles: ten rows; bands: a bar per band with trials in each model.
        let deciles = &page[page.find("id=\"deciles\"").unwrap()..];
        let body = &deciles[..deciles.find("</tbody>").unwrap()];
        assert_eq!(body.matches("<tr><th scope=\"row\">").count(), 10);
        let with_trials = |bands: &[Band]| bands.iter().filter(|b| b.trials > 0).count();
        assert_eq!(
            page.matches("<rect class=\"bar-actual").count(),
            with_trials(&c.bands.current) + with_trials(&c.bands.suggested)
        );

        // Data is escaped; the page fetches nothing.
        assert!(page.contains("seats&lt;limit_14d"));
        assert!(!page.contains("seats<limit"));
        for banned in ["<script", "http://", "https://", "src="] {
            assert!(!page.contains(banned), "{banned} found");
        }
    }

    #[test]
    fn empty_parts_say_so() {
        let mut c = sample();
        c.warnings.clear();
        c.candidates.clear();
        c.holdout.auc_current = None;
        let page = render(&c);
        assert!(!page.contains("id=\"warnings\""));
        assert!(!page.contains("id=\"candidates\""));
        assert!(page.contains("<p>None:"));
        assert!(page.contains("– → <b>0.768</b>"));
    }

    #[test]
    fn formats() {
        assert_eq!(reason("paying_by_day_k", 3), "already paying by day 3");
        assert_eq!(reason("new_reason_k", 3), "new reason 3");
        assert_eq!(value_text("between", &json!([10, 49])), "10–49");
        assert_eq!(
            value_text("in", &json!(["saas", "fintech"])),
            "[saas, fintech]"
        );
        assert_eq!(short(0.31622776601683794), "0.32");
        assert_eq!(short(10.0), "10");
        assert_eq!(rate_axis(0.47).1, 5);
        assert_eq!(axis_pct(rate_axis(0.47).0), "50%");
        assert_eq!(axis_pct(rate_axis(0.3).0), "30%");
        assert_eq!(axis_pct(rate_axis(0.034).0), "4%");
        assert_eq!(
            share_at(&[(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)], 0.25),
            Some(0.4)
        );
    }
}

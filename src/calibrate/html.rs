//! The calibration as one self-contained HTML page (`calibration.html`), drawn from a
//! [`Calibration`] alone. It follows the report page's conventions and reuses its stylesheet
//! and escaping: inline CSS and inline SVG, no scripts, fonts, images or links to fetch, so it
//! can be mailed or opened offline. Leadership and analysts read it to decide whether to adopt
//! the suggested points, so every figure is shown for the current config and the suggestion
//! side by side, and every chart also has its numbers in a table.

use std::collections::BTreeSet;
use std::fmt::Write;

use chrono::NaiveDate;

use pqlsync_calibrate::types::*;
use pqlsync_sql::report::html::{STYLE, escape};

/// Current in a muted slate and suggested in the report's blue, so the suggestion stands out
/// and the two read the same way in every chart.
const CURRENT: &str = "#9aa3b2";
const SUGGESTED: &str = "#3b6fb6";

/// Bands with fewer holdout trials than this are drawn faint: their rate is mostly noise.
const FEW_TRIALS: usize = 30;

/// What a missing figure shows as.
const DASH: &str = "–";

/// This page's rules, emitted after the report's stylesheet.
const STYLE_EXTRA: &str = "
.wide{overflow-x:auto}
/* two header rows would both stick at top:0 and overlap; these tables are short anyway */
.cmp thead th{position:static;text-align:right}
.cmp thead th.side{text-align:center;border-bottom:2px solid}
.cmp thead th.side.current{border-color:#9aa3b2}.cmp thead th.side.suggested{border-color:#3b6fb6}
.cmp thead th[rowspan],.data tbody th{text-align:left}
.data th.num{text-align:right}
.data tbody th{font-weight:500;padding:3px 8px;border-bottom:1px solid #e6e9ef;white-space:nowrap}
.cmp .start{border-left:2px solid #e6e9ef}
.data td small{color:#5b6475}
.kpi .value b{color:#3b6fb6}
#warnings ul{padding-left:0;list-style:none}
#warnings li{border-left:3px solid #e8b32e;background:#fdf6e3;padding:6px 10px;margin:6px 0}
#warnings li .signals{color:#5b6475;font-size:12px}
.badge{display:inline-block;font-size:11px;line-height:16px;padding:0 6px;border-radius:8px}
.badge{background:#eef0f4;color:#5b6475;margin-left:6px;white-space:nowrap}
.badge.status-ok{background:#e6f4ea;color:#2f6f46}
.badge.status-dropped{background:#fbe9e9;color:#a33a3a}
.badge.leakage{background:#fbe9e9;color:#a33a3a}.badge.duplicate{background:#fdf0cf;color:#7a5a10}
#signals td.rule{white-space:normal;min-width:220px;max-width:320px}
#signals td.rule .label{color:#5b6475;font-size:12px}
#signals td.changed{background:#fff6d6;font-weight:600}
#signals td.changed small{font-weight:400}
/* the report's GREEN, YELLOW and RED */
.swatch.green{background:#2f9e5b}.swatch.yellow{background:#e8b32e}.swatch.red{background:#d64545}
.swatch.current{background:#9aa3b2}.swatch.suggested{background:#3b6fb6}
.swatch.predicted{background:#fff;border:2px solid #1d2433;border-radius:50%;width:7px;height:7px}
#gains-chart{width:100%;max-width:640px;height:auto;display:block}
#bands-chart{width:100%;max-width:960px;height:auto;display:block;margin-bottom:12px}
svg .title{font-weight:600}svg .legend{font-size:13px}
.how{max-width:860px}
";

/// The whole page.
pub fn render(c: &Calibration) -> String {
    let mut page = String::new();
    header(&mut page, c);
    kpis(&mut page, c);
    warnings(&mut page, c);
    deciles(&mut page, c);
    gains(&mut page, c);
    tiers(&mut page, c);
    thresholds(&mut page, c);
    bands(&mut page, c);
    signals(&mut page, c);
    candidates(&mut page, c);
    how_to_read(&mut page);
    page.push_str("</body>\n</html>\n");
    page
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

/// An option through `f`, or the dash.
fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| DASH.to_string())
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

fn day(d: Option<NaiveDate>) -> String {
    opt(d, |d| d.to_string())
}

/// The first and last trial start of a split.
fn span(first: Option<NaiveDate>, last: Option<NaiveDate>) -> String {
    if first.is_none() && last.is_none() {
        return DASH.to_string();
    }
    format!("{} – {}", day(first), day(last))
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

fn header(page: &mut String, c: &Calibration) {
    let title = escape(&format!("pqlsync calibration, as of {}", c.as_of));
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}{STYLE_EXTRA}</style>\n</head>\n<body>\n\
         <header>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        page,
        "<p class=\"meta\">Trials that started {} to {} (UTC). Features as of the end of trial \
         day {} (day 1 is the start day); a trial counts as converted if it paid within {} days \
         of its start.</p>",
        c.from, c.to, c.at_day, c.horizon
    );
    let h = &c.holdout;
    let _ = writeln!(
        page,
        "<p class=\"meta\">Training: {} trials, {} conversions (started {}). Holdout, the newest \
         trials, never seen by the fit it scores: {} trials, {} conversions (started {}), a base \
         rate of {}.</p>",
        count(c.training.trials),
        count(c.training.conversions),
        span(c.training.first_start, c.training.last_start),
        count(h.trials),
        count(h.conversions),
        span(h.first_start, h.last_start),
        pct(h.base_rate)
    );
    let excluded = if c.excluded.is_empty() {
        "none".to_string()
    } else {
        c.excluded
            .iter()
            .map(|(key, n)| format!("{} {}", count(*n), escape(&reason(key, c.at_day))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        page,
        "<p class=\"meta\">Left out: {excluded}. Generated by pqlsync {} in {:.1}&nbsp;s \
         ({:.1}&nbsp;s computing features).</p>\n</header>",
        env!("CARGO_PKG_VERSION"),
        c.seconds,
        c.feature_seconds
    );
}

fn kpis(page: &mut String, c: &Calibration) {
    let h = &c.holdout;
    let rate = if c.trials > 0 {
        pct(c.conversions as f64 / c.trials as f64)
    } else {
        DASH.to_string()
    };
    let delta = match (h.auc_current, h.auc_suggested) {
        (Some(a), Some(b)) => format!(" <small>{:+.3}</small>", b - a),
        _ => String::new(),
    };
    let tried = c
        .penalties
        .iter()
        .map(|p| format!("{}: log-loss {:.4}", short(p.penalty), p.holdout_log_loss))
        .collect::<Vec<_>>()
        .join("; ");
    let cards = [
        (
            count(c.trials),
            "Trials".to_string(),
            "Training and holdout together".to_string(),
        ),
        (
            format!("{} <small>{rate}</small>", count(c.conversions)),
            format!("Paid within {} days", c.horizon),
            "Conversions, and their share of the trials".to_string(),
        ),
        (
            format!(
                "{} → <b>{}</b>{delta}",
                opt(h.auc_current, auc),
                opt(h.auc_suggested, auc)
            ),
            "Holdout AUC, current → suggested".to_string(),
            "How well the score ranks converting trials above the rest: 0.5 is chance, 1 perfect"
                .to_string(),
        ),
        (
            format!(
                "+{}",
                short((c.scale.points_to_double_odds * 10.0).round() / 10.0)
            ),
            "points double the odds".to_string(),
            format!(
                "Suggested scale: one PQL point multiplies the odds of converting by {:.3}",
                c.scale.odds_per_point
            ),
        ),
        (
            short(c.penalty),
            format!("L2 penalty, best of {} tried", c.penalties.len()),
            format!("Holdout log-loss by penalty: {tried}"),
        ),
    ];
    page.push_str("<section id=\"kpis\" class=\"kpis\">");
    for (value, label, title) in cards {
        let _ = write!(
            page,
            "<div class=\"kpi\" title=\"{}\"><div class=\"value\">{value}</div>\
             <div class=\"label\">{}</div></div>",
            escape(&title),
            escape(&label)
        );
    }
    page.push_str("</section>\n");
}

fn warnings(page: &mut String, c: &Calibration) {
    if c.warnings.is_empty() {
        return;
    }
    page.push_str(
        "<section id=\"warnings\"><h2>Look at these before adopting</h2>\n<p class=\"note\">\
         Leakage: a signal that mostly fires because the trial already converted. Duplicate: \
         signals that fire for nearly the same trials, so their points split one effect.</p>\
         <ul>\n",
    );
    for w in &c.warnings {
        // The kind becomes a class only when it is one the stylesheet knows.
        let class = match w.kind.as_str() {
            "leakage" | "duplicate" => w.kind.as_str(),
            _ => "",
        };
        let _ = write!(
            page,
            "<li class=\"warning\"><span class=\"badge {class}\">{}</span> {}",
            escape(&w.kind),
            escape(&w.message)
        );
        if !w.signals.is_empty() {
            let _ = write!(
                page,
                "<div class=\"signals\">{}</div>",
                w.signals
                    .iter()
                    .map(|s| format!("<code>{}</code>", escape(s)))
                    .collect::<Vec<_>>()
                    .join(" · ")
            );
        }
        page.push_str("</li>\n");
    }
    page.push_str("</ul></section>\n");
}

/// Opens a comparison table: `first` columns span both header rows, then `columns` once under
/// each of the two group headings.
fn compared_head(page: &mut String, id: &str, first: &[&str], groups: [&str; 2], columns: &[&str]) {
    let _ = write!(
        page,
        "<div class=\"wide\"><table class=\"data cmp\" id=\"{id}\"><thead><tr>"
    );
    for f in first {
        let _ = write!(page, "<th rowspan=\"2\">{}</th>", escape(f));
    }
    for (group, class) in groups.iter().zip(["current", "suggested"]) {
        let _ = write!(
            page,
            "<th colspan=\"{}\" class=\"side {class} start\">{}</th>",
            columns.len(),
            escape(group)
        );
    }
    page.push_str("</tr><tr>");
    for _ in 0..2 {
        for (i, col) in columns.iter().enumerate() {
            let start = if i == 0 { " class=\"start\"" } else { "" };
            let _ = write!(page, "<th{start}>{}</th>", escape(col));
        }
    }
    page.push_str("</tr></thead><tbody>\n");
}

/// One side's cells of a comparison row (already escaped), the first marking the group's edge.
fn side_cells(page: &mut String, cells: &[String]) {
    for (i, cell) in cells.iter().enumerate() {
        let start = if i == 0 { " start" } else { "" };
        let _ = write!(page, "<td class=\"num{start}\">{cell}</td>");
    }
}

fn deciles(page: &mut String, c: &Calibration) {
    let _ = write!(
        page,
        "<section><h2>Holdout by score decile</h2>\n<p class=\"note\">The holdout's trials in ten \
         equal groups by PQL score, decile 1 holding the highest scores. Lift is the decile's \
         conversion rate over the holdout's {}; the last column is the share of all holdout \
         conversions in this decile and those above it. A better score puts more conversions in \
         the first deciles.</p>\n",
        pct(c.holdout.base_rate)
    );
    let columns = ["scores", "trials", "conv.", "rate", "lift", "cum. conv."];
    compared_head(
        page,
        "deciles",
        &["decile"],
        ["Current", "Suggested"],
        &columns,
    );
    let sides = [&c.deciles.current, &c.deciles.suggested];
    let numbers: BTreeSet<u8> = sides
        .iter()
        .flat_map(|s| s.iter().map(|d| d.decile))
        .collect();
    for n in numbers {
        let _ = write!(page, "<tr><th scope=\"row\">{n}</th>");
        for side in sides {
            let cells = match side.iter().find(|d| d.decile == n) {
                Some(d) => vec![
                    format!("{}–{}", d.min_score, d.max_score),
                    count(d.trials),
                    count(d.conversions),
                    pct(d.rate),
                    opt(d.lift, lift),
                    pct(d.cumulative_conversion_share),
                ],
                None => vec![DASH.to_string(); columns.len()],
            };
            side_cells(page, &cells);
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div></section>\n");
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

fn gains(page: &mut String, c: &Calibration) {
    let (width, height) = (640.0, 440.0);
    let (left, right, top, bottom) = (58.0, 16.0, 14.0, 50.0);
    let (pw, ph) = (width - left - right, height - top - bottom);
    let x = |s: f64| left + pw * s.clamp(0.0, 1.0);
    let y = |s: f64| top + ph * (1.0 - s.clamp(0.0, 1.0));
    let top20 = |points: &[(f64, f64)]| opt(share_at(points, 0.2), pct);
    let _ = write!(
        page,
        "<section><h2>Cumulative gains on the holdout</h2>\n<p class=\"note\">Taking the \
         holdout's trials from the highest score down, the share of all its conversions found so \
         far. The higher the curve, the fewer trials sales must work to reach the buyers; the \
         diagonal is a random order. The top 20% of trials hold {} of the conversions under the \
         current points and {} under the suggested.</p>\n",
        top20(&c.gains.current),
        top20(&c.gains.suggested)
    );
    // No xmlns: inline SVG in HTML needs none, and the page then names no URL at all.
    let _ = writeln!(
        page,
        "<svg id=\"gains-chart\" role=\"img\" aria-label=\"Cumulative gains, current and \
         suggested\" viewBox=\"0 0 {width} {height}\">"
    );
    for i in 0..=5 {
        let s = f64::from(i) / 5.0;
        let _ = writeln!(
            page,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <line class=\"grid\" x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{top}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}%</text>",
            x(1.0),
            y(s),
            y(s),
            x(s),
            x(s),
            y(0.0),
            left - 6.0,
            y(s) + 4.0,
            s * 100.0,
            x(s),
            y(0.0) + 16.0,
            s * 100.0
        );
    }
    let _ = writeln!(
        page,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">share of holdout \
         trials, highest scores first</text>\
         <text class=\"axis\" transform=\"translate(14,{:.1}) rotate(-90)\" \
         text-anchor=\"middle\">share of holdout conversions</text>\
         <line class=\"gains-random\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" \
         stroke=\"#5b6475\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>",
        x(0.5),
        height - 8.0,
        y(0.5),
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    // Current is drawn wide and under the suggestion, so where the two coincide both show.
    let auc_of = |v: Option<f64>| opt(v, |a| format!("AUC {}", auc(a)));
    for (class, points, colour, stroke, name, auc_text) in [
        (
            "gains-current",
            &c.gains.current,
            CURRENT,
            5.0,
            "Current",
            auc_of(c.holdout.auc_current),
        ),
        (
            "gains-suggested",
            &c.gains.suggested,
            SUGGESTED,
            2.5,
            "Suggested",
            auc_of(c.holdout.auc_suggested),
        ),
    ] {
        let coords = points
            .iter()
            .map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            page,
            "<polyline class=\"{class}\" points=\"{coords}\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"{stroke}\" stroke-linejoin=\"round\"><title>{name}: {}</title>\
             </polyline>",
            escape(&auc_text)
        );
    }
    // The legend sits in the empty lower right, below the diagonal.
    let (lx, ly) = (x(0.56), y(0.22));
    for (i, (colour, stroke, text, dash)) in [
        (
            CURRENT,
            5.0,
            format!("Current ({})", auc_of(c.holdout.auc_current)),
            "",
        ),
        (
            SUGGESTED,
            2.5,
            format!("Suggested ({})", auc_of(c.holdout.auc_suggested)),
            "",
        ),
        ("#5b6475", 1.5, "Random order".to_string(), "5 4"),
    ]
    .iter()
    .enumerate()
    {
        let ry = ly + i as f64 * 22.0;
        let _ = writeln!(
            page,
            "<g class=\"legend\"><line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ry:.1}\" y2=\"{ry:.1}\" \
             stroke=\"{colour}\" stroke-width=\"{stroke}\" stroke-dasharray=\"{dash}\"/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            lx + 28.0,
            lx + 36.0,
            ry + 4.0,
            escape(text)
        );
    }
    page.push_str("</svg></section>\n");
}

fn tiers(page: &mut String, c: &Calibration) {
    page.push_str(
        "<section><h2>Holdout by tier</h2>\n<p class=\"note\">The holdout's trials in each tier \
         under each model and its own thresholds. Lift is the tier's conversion rate over the \
         holdout's; the last column is the tier's share of all holdout conversions. A good \
         Green is small, converts well, and still holds many of the buyers.</p>\n",
    );
    let t = &c.tiers;
    let heading = |name: &str, table: &TierTable| {
        format!(
            "{name} (Yellow ≥ {}, Green ≥ {})",
            table.yellow, table.green
        )
    };
    let columns = ["trials", "share", "conv.", "rate", "lift", "conv. share"];
    compared_head(
        page,
        "tiers",
        &["tier"],
        [
            &heading("Current", &t.current),
            &heading("Suggested", &t.suggested),
        ],
        &columns,
    );
    // Green, Yellow, Red as the tables list them; a tier only one side has still gets its row.
    let mut names: Vec<&str> = Vec::new();
    for row in t.current.rows.iter().chain(&t.suggested.rows) {
        if !names.contains(&row.tier.as_str()) {
            names.push(&row.tier);
        }
    }
    for name in names {
        // The tier becomes a class only when it is one the stylesheet colours.
        let class = match name {
            "green" | "yellow" | "red" => name,
            _ => "",
        };
        let mut shown = name.to_string();
        if let Some(first) = shown.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let _ = write!(
            page,
            "<tr><th scope=\"row\"><span class=\"swatch {class}\"></span> {}</th>",
            escape(&shown)
        );
        for table in [&t.current, &t.suggested] {
            let cells = match table.rows.iter().find(|r| r.tier == name) {
                Some(r) => vec![
                    count(r.trials),
                    pct(r.share),
                    count(r.conversions),
                    opt(r.rate, pct),
                    opt(r.lift, lift),
                    pct(r.conversion_share),
                ],
                None => vec![DASH.to_string(); columns.len()],
            };
            side_cells(page, &cells);
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div></section>\n");
}

/// The config's other PQL thresholds, moved to the suggested scale with what each flags.
fn thresholds(page: &mut String, c: &Calibration) {
    if c.thresholds.is_empty() {
        return;
    }
    page.push_str(
        "<section><h2>Thresholds on the same scale</h2>\n<p class=\"note\">The config's other \
         thresholds on the PQL score move with the scorecard, each keeping its place among the \
         tiers (halfway from Green to the top stays halfway from the suggested Green to the \
         holdout's top score). Beside each, the holdout trials it flags under each model: the \
         workload it gives reps, and how many of them converted. They are in \
         <code>calibration.toml</code> with the scorecard; adopt them together.</p>\n",
    );
    let columns = ["threshold", "trials", "share", "rate"];
    compared_head(
        page,
        "thresholds",
        &["key"],
        ["Current", "Suggested"],
        &columns,
    );
    for k in &c.thresholds {
        let t = &k.threshold;
        let _ = write!(
            page,
            "<tr><th scope=\"row\"><code>{}</code></th>",
            escape(&k.key)
        );
        for (value, f) in [
            (t.current, &t.current_flagged),
            (t.suggested, &t.suggested_flagged),
        ] {
            side_cells(
                page,
                &[
                    value.to_string(),
                    count(f.trials),
                    pct(f.share),
                    opt(f.rate, pct),
                ],
            );
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div></section>\n");
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

fn bands(page: &mut String, c: &Calibration) {
    let _ = writeln!(
        page,
        "<section><h2>Conversion by score band, predicted and actual</h2>\n<p class=\"note\">\
         Holdout trials by PQL score in bands of 10 points. <span class=\"swatch current\"></span>\
         <span class=\"swatch suggested\"></span> Bars: the band's actual conversion rate \
         (faint with fewer than {FEW_TRIALS} trials). <span class=\"swatch predicted\"></span> \
         Circles: the rate the score predicts, from a one-variable logistic fit of converting on \
         the score over the training trials. Bars close to their circles mean a score can be \
         read as a probability; rising bars mean it ranks well.</p>"
    );
    let sides = [
        ("Current", &c.bands.current, CURRENT, "current"),
        ("Suggested", &c.bands.suggested, SUGGESTED, "suggested"),
    ];
    let top_rate = sides
        .iter()
        .flat_map(|(_, bands, _, _)| bands.iter())
        .flat_map(|b| [b.actual.filter(|_| b.trials > 0), b.predicted])
        .flatten()
        .fold(0.0, f64::max);
    let (ymax, steps) = rate_axis(top_rate);
    let score_max = sides
        .iter()
        .flat_map(|(_, bands, _, _)| bands.iter().map(|b| f64::from(b.high) + 1.0))
        .fold(100.0, f64::max);
    let (width, height) = (960.0, 300.0);
    let panel = width / 2.0;
    let (left, right, top, bottom) = (52.0, 18.0, 30.0, 42.0);
    let (pw, ph) = (panel - left - right, height - top - bottom);
    let y = |r: f64| top + ph * (1.0 - (r / ymax).clamp(0.0, 1.0));
    let _ = writeln!(
        page,
        "<svg id=\"bands-chart\" role=\"img\" aria-label=\"Conversion by score band, current and \
         suggested\" viewBox=\"0 0 {width} {height}\">"
    );
    for (i, (name, bands, colour, class)) in sides.iter().enumerate() {
        let ox = i as f64 * panel + left;
        let x = |score: f64| ox + pw * (score / score_max).clamp(0.0, 1.0);
        let _ = writeln!(
            page,
            "<g class=\"panel {class}\"><text class=\"title\" x=\"{ox:.1}\" y=\"16\">{name}</text>"
        );
        for k in 0..=steps {
            let r = ymax * f64::from(k) / f64::from(steps);
            let _ = writeln!(
                page,
                "<line class=\"grid\" x1=\"{ox:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                ox + pw,
                y(r),
                y(r),
                ox - 6.0,
                y(r) + 4.0,
                axis_pct(r)
            );
        }
        let mut ticks: BTreeSet<u32> = bands.iter().map(|b| u32::from(b.low)).collect();
        ticks.insert(score_max as u32 - 1);
        for t in ticks {
            // The last band ends at the top score inclusive; its tick sits at the axis end.
            let at = if t + 1 == score_max as u32 {
                score_max
            } else {
                f64::from(t)
            };
            let _ = writeln!(
                page,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{t}</text>",
                x(at),
                y(0.0) + 15.0
            );
        }
        let _ = writeln!(
            page,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">PQL score</text>",
            ox + pw / 2.0,
            height - 6.0
        );
        for b in bands.iter().filter(|b| b.trials > 0) {
            let Some(actual) = b.actual else { continue };
            let (x0, x1) = (x(f64::from(b.low)), x(f64::from(b.high) + 1.0));
            let few = b.trials < FEW_TRIALS;
            let _ = writeln!(
                page,
                "<rect class=\"bar-actual {class}{}\" data-rate=\"{actual:.4}\" x=\"{:.1}\" \
                 y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" \
                 fill-opacity=\"{}\"><title>{name}, scores {}–{}: {} of {} trials converted \
                 ({})</title></rect>",
                if few { " few" } else { "" },
                x0 + 2.0,
                y(actual),
                (x1 - x0 - 4.0).max(1.0),
                y(0.0) - y(actual),
                if few { "0.35" } else { "1" },
                b.low,
                b.high,
                count(b.conversions),
                count(b.trials),
                pct(actual)
            );
        }
        // The predicted rates joined up, so the fitted curve reads as one line.
        let predicted: Vec<(f64, f64, &Band)> = bands
            .iter()
            .filter_map(|b| {
                let mid = (f64::from(b.low) + f64::from(b.high) + 1.0) / 2.0;
                b.predicted.map(|p| (x(mid), y(p), b))
            })
            .collect();
        if predicted.len() > 1 {
            let coords = predicted
                .iter()
                .map(|(px, py, _)| format!("{px:.1},{py:.1}"))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                page,
                "<polyline class=\"predicted-line\" points=\"{coords}\" fill=\"none\" \
                 stroke=\"#1d2433\" stroke-width=\"1\" stroke-dasharray=\"3 3\"/>"
            );
        }
        for (px, py, b) in predicted {
            let _ = writeln!(
                page,
                "<circle class=\"predicted\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"4.5\" \
                 fill=\"#ffffff\" stroke=\"#1d2433\" stroke-width=\"2\"><title>{name}, scores \
                 {}–{}: predicted {}</title></circle>",
                b.low,
                b.high,
                opt(b.predicted, pct)
            );
        }
        page.push_str("</g>\n");
    }
    page.push_str("</svg>\n");
    let columns = ["trials", "conv.", "actual", "predicted"];
    compared_head(
        page,
        "bands",
        &["scores"],
        ["Current", "Suggested"],
        &columns,
    );
    let keys: BTreeSet<(u8, u8)> = sides
        .iter()
        .flat_map(|(_, bands, _, _)| bands.iter().map(|b| (b.low, b.high)))
        .collect();
    for (low, high) in keys {
        let _ = write!(page, "<tr><th scope=\"row\">{low}–{high}</th>");
        for (_, bands, _, _) in &sides {
            let cells = match bands.iter().find(|b| (b.low, b.high) == (low, high)) {
                Some(b) => vec![
                    count(b.trials),
                    count(b.conversions),
                    opt(b.actual.filter(|_| b.trials > 0), pct),
                    opt(b.predicted, pct),
                ],
                None => vec![DASH.to_string(); columns.len()],
            };
            side_cells(page, &cells);
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table></div></section>\n");
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

/// `≥ 2`, `is true`, `≥ 14 or null`, escaped.
fn condition(op: &str, value: Option<String>, fire_on_null: bool) -> String {
    let mut text = op_text(op);
    if let Some(v) = value {
        text.push(' ');
        text.push_str(&v);
    }
    if fire_on_null {
        text.push_str(" or null");
    }
    escape(&text)
}

fn signals(page: &mut String, c: &Calibration) {
    page.push_str(
        "<section><h2>Signals</h2>\n<p class=\"note\">Every configured signal with its current \
         and suggested points (changes highlighted). The odds ratio is how much firing (one unit, \
         for a per-unit signal) multiplies the odds of converting, in the fit on all trials; the \
         interval is the 80% bootstrap range of the suggested points. A signal whose interval \
         spans 0 is <em>dropped</em> (suggested at 0 points); one that fired for too few \
         converting trials keeps its points (<em>insufficient data</em>). Holdout AUC and lift \
         score the signal alone.</p>\n<div class=\"wide\"><table class=\"data\" id=\"signals\">\
         <thead><tr><th>group</th><th>rule</th><th class=\"num\">current</th>\
         <th class=\"num\">suggested</th><th class=\"num\">odds ratio</th>\
         <th class=\"num\">80% interval</th><th class=\"num\">fired</th>\
         <th class=\"num\">conv.</th><th class=\"num\">AUC</th><th class=\"num\">lift</th>\
         </tr></thead><tbody>\n",
    );
    for s in &c.signals {
        let value = s.value.as_ref().map(|v| value_text(&s.op, v));
        let mut rule_html = format!(
            "<code>{} {}</code>",
            escape(&s.feature),
            condition(&s.op, value, s.fire_on_null)
        );
        if let Some(per) = s.per {
            let _ = write!(
                rule_html,
                " <small>per {}{}</small>",
                escape(&short(per)),
                s.max_points
                    .map(|m| format!(", max {m}"))
                    .unwrap_or_default()
            );
        }
        if let Some(label) = &s.label {
            let _ = write!(rule_html, "<div class=\"label\">{}</div>", escape(label));
        }
        // A per-unit signal's cap can move too; it counts as a change like the points.
        let max_changed = s.per.is_some()
            && s.suggested_max_points.is_some()
            && s.suggested_max_points != s.max_points;
        let changed = s.suggested_points != s.current_points || max_changed;
        let mut suggested = points(s.suggested_points);
        if s.suggested_points != s.current_points {
            let _ = write!(
                suggested,
                " <small>({})</small>",
                points(s.suggested_points - s.current_points)
            );
        }
        if max_changed && let Some(m) = s.suggested_max_points {
            let _ = write!(suggested, " <small>max {m}</small>");
        }
        let status = match s.status {
            Status::Ok => "ok",
            Status::InsufficientData => "insufficient data",
            Status::Dropped => "dropped",
        };
        let interval = match (s.ci_low, s.ci_high) {
            (Some(lo), Some(hi)) => format!("{lo:+.1} to {hi:+.1}"),
            _ => DASH.to_string(),
        };
        let fired_rate = if s.fired_trials > 0 {
            format!(
                " <small>{}</small>",
                pct(s.fired_conversions as f64 / s.fired_trials as f64)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            page,
            "<tr data-status=\"{}\"><td>{}</td><td class=\"rule\">{rule_html}</td>\
             <td class=\"num\">{}</td><td class=\"num{}\">{suggested}\
             <span class=\"badge status-{}\">{status}</span></td><td class=\"num\">{}</td>\
             <td class=\"num\">{interval}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}{fired_rate}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            s.status.as_str(),
            escape(&s.group),
            points(s.current_points),
            if changed { " changed" } else { "" },
            s.status.as_str(),
            opt(s.odds_ratio, |o| format!("{o:.2}")),
            count(s.fired_trials),
            count(s.fired_conversions),
            opt(s.holdout_auc, auc),
            opt(s.holdout_lift, lift)
        );
    }
    page.push_str("</tbody></table></div></section>\n");
}

fn candidates(page: &mut String, c: &Calibration) {
    page.push_str(
        "<section><h2>Candidate signals</h2>\n<p class=\"note\">Columns of \
         <code>account_features</code> no signal scores, each at its best single threshold, \
         ranked by its correlation (phi) with converting. These are suggestions to look into; \
         calibration never adds a signal by itself.</p>\n",
    );
    if c.candidates.is_empty() {
        page.push_str("<p>None: no unscored column separates converting trials.</p></section>\n");
        return;
    }
    page.push_str(
        "<div class=\"wide\"><table class=\"data\" id=\"candidates\"><thead><tr>\
         <th>feature</th><th>condition</th><th class=\"num\">coverage</th>\
         <th class=\"num\">fired</th><th class=\"num\">conv.</th><th class=\"num\">rate</th>\
         <th class=\"num\">lift</th><th class=\"num\">phi</th></tr></thead><tbody>\n",
    );
    for k in &c.candidates {
        let value = k.value.map(pqlsync_core::fmt::trim_float);
        let _ = writeln!(
            page,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{:.3}</td></tr>",
            escape(&k.feature),
            condition(&k.op, value, false),
            pct(k.coverage),
            count(k.fired_trials),
            count(k.fired_conversions),
            pct(k.rate),
            lift(k.lift),
            k.phi
        );
    }
    page.push_str("</tbody></table></div></section>\n");
}

fn how_to_read(page: &mut String) {
    page.push_str(
        "<section id=\"how-to-read\" class=\"how\"><h2>How to read this, and adopt it</h2>\n\
         <p>The suggested points were fitted on the older trials only and are judged here on the \
         newest ones (the holdout), so the comparison is the one that matters: how each set of \
         points would have ranked trials it had never seen. Prefer the suggestion when its AUC, \
         its first deciles and its gains curve are higher, and its Green tier converts better, \
         without a warning above that explains the gain away.</p>\n\
         <p><code>calibration.toml</code>, written beside this page, holds everything the \
         calibration changes: a complete <code>[scoring]</code> section (the suggested points, \
         weights and tier thresholds, and <code>[scoring.calibration]</code>, what they were \
         learned on) and the <code>[routing]</code> and \
         <code>[hubspot.lifecycle_thresholds]</code> keys on the same scale. Review it (dropped \
         signals are at 0 points, signals with insufficient data keep their current points), \
         then replace the <code>[scoring]</code> section of your config with its own and set \
         the other keys it lists. Nothing changes until you do.</p></section>\n",
    );
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

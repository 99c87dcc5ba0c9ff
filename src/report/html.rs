//! `report --format html` and `GET /admin/report`: the committee's report as one self-contained
//! page (inline CSS and SVG, no script, no network; a Content-Security-Policy forbids both).
//! Its numbers are the [`Report`]'s, the same as `report --format json` for the period; each
//! number carries `data-rule` / `data-k` (the JSON field name) so a test can compare them.
//!
//! What the committee looks at: headline figures, a table per rule, per rule and per month the
//! cards shown, critical cards, overrides and accepted suggestions (grouped bars), the override
//! reasons per rule (bars with count and share), the override rate of critical cards per month,
//! and the list of overridden critical decisions (with those of unknown cards, whose indicator
//! this service cannot know) with their flags. Words and dates follow `rules.language`
//! (src/report/text.rs).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::svg::{self, escape, HBar, Series};
use super::text::{for_language, ReportTexts};
use super::{OverrideDecision, Report, RuleReport, StoredIndicator, UNKNOWN_CARD};
use crate::cards::Language;
use crate::rules::{Profile, RuleCode};
use crate::wire::response::Indicator;

/// What the page says besides the report's numbers.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub language: Language,
    /// The configured rule set (`rules.profile`), named when the report covers every profile
    /// (the one it is filtered on is the report's own, [`Report::profile`]).
    pub profile: String,
    pub generated_at: DateTime<Utc>,
    /// The served page's filter form posts (GET) here; `None` in a file.
    pub form_action: Option<String>,
}

impl Default for PageContext {
    fn default() -> Self {
        Self {
            language: Language::default(),
            profile: Profile::default().as_str().to_owned(),
            generated_at: Utc::now(),
            form_action: None,
        }
    }
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#1f3a5f;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;font-size:14px;opacity:.92}
main{padding:12px 28px 40px;max-width:1200px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:14px 18px;margin:16px 0}
h2{font-size:18px;margin:0 0 10px}
h3{font-size:15px;margin:14px 0 6px}
.note{color:#57606a;font-size:13px;margin:0 0 8px}
.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:150px}
.kpi .v{font-size:26px;font-weight:600}
.kpi .l{font-size:12px;color:#57606a}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.empty{font-size:18px;padding:20px;background:#fff8c5;border:1px solid #d4a72c;border-radius:6px}
.flag{display:inline-block;background:#ffebe9;border:1px solid #ff8182;border-radius:10px;padding:0 6px;margin:1px;font-size:12px}
.chart{max-width:100%;height:auto;display:block;margin:6px 0}
form{display:flex;gap:10px;align-items:end;flex-wrap:wrap;font-size:13px}
form label{display:flex;flex-direction:column}
code{font-size:12px}
@media print{body{background:#fff}section{break-inside:avoid}form{display:none}}
";

fn rule_label(t: &ReportTexts, language: Language, rule: &str) -> String {
    if rule == UNKNOWN_CARD {
        return t.unknown_card.to_owned();
    }
    match RuleCode::from_code(rule) {
        Some(code) => crate::cards::text::for_language(language)
            .rule_title(code)
            .to_owned(),
        None => rule.to_owned(),
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The period as the language writes it; `until` is exclusive, so its last instant is shown.
fn period(t: &ReportTexts, report: &Report) -> String {
    let since = report.since.as_deref().and_then(parse_time);
    let until = report
        .until
        .as_deref()
        .and_then(parse_time)
        .map(|u| u - chrono::Duration::milliseconds(1));
    match (since, until) {
        (None, None) => t.all_time.to_owned(),
        (s, u) => format!(
            "{} {} {} {}",
            t.from,
            s.map(|s| t.date(s)).unwrap_or_else(|| "…".to_owned()),
            t.to,
            u.map(|u| t.date(u)).unwrap_or_else(|| "…".to_owned())
        ),
    }
}

/// Which rule profile the figures are of (issue 15): the one filtered on, or all of them (with
/// the one in force).
fn profile_statement(t: &ReportTexts, report: &Report, ctx: &PageContext) -> String {
    match &report.profile {
        Some(p) => format!(
            r#"<span id="profile" data-profile="{p}">{}{}<code>{p}</code></span>"#,
            escape(t.profile),
            escape(t.colon),
            p = escape(p),
        ),
        None => format!(
            r#"<span id="profile" data-profile="all">{}{}{} ({} <code>{}</code>)</span>"#,
            escape(t.profile),
            escape(t.colon),
            escape(t.all_profiles),
            escape(t.configured),
            escape(&ctx.profile),
        ),
    }
}

/// The filter form's profile choices, the report's own selected.
fn profile_options(t: &ReportTexts, report: &Report) -> String {
    let current = report.profile.as_deref().unwrap_or("");
    let mut out = String::new();
    for (value, label) in [
        ("", t.all_profiles),
        (Profile::Ansm2019.as_str(), Profile::Ansm2019.as_str()),
        (Profile::Ema2020.as_str(), Profile::Ema2020.as_str()),
    ] {
        let _ = write!(
            out,
            r#"<option value="{}"{}>{}</option>"#,
            escape(value),
            if value == current { " selected" } else { "" },
            escape(label)
        );
    }
    out
}

/// A reason as the prescriber read it, with its code.
fn reason_text(code: &str, display: Option<&str>, t: &ReportTexts) -> String {
    match (code, display) {
        ("(none)", _) => t.no_reason.to_owned(),
        (c, Some(d)) if d != c => format!("{d} [{c}]"),
        (c, _) => c.to_owned(),
    }
}

struct Totals {
    cards_shown: u64,
    distinct_orders: u64,
    critical_cards: u64,
    accepted: u64,
    accepted_suggestions: u64,
    overrides: u64,
    critical_overrides: u64,
}

fn totals(report: &Report) -> Totals {
    let sum = |f: fn(&RuleReport) -> u64| report.rules.iter().map(f).sum();
    Totals {
        cards_shown: sum(|r| r.cards_shown),
        distinct_orders: sum(|r| r.distinct_orders),
        critical_cards: sum(|r| r.critical_cards),
        accepted: sum(|r| r.accepted),
        accepted_suggestions: sum(|r| r.accepted_suggestions),
        overrides: sum(|r| r.overrides),
        critical_overrides: sum(|r| r.critical_overrides),
    }
}

/// The page.
pub fn page(report: &Report, ctx: &PageContext) -> String {
    let t = for_language(ctx.language);
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"><title>{title}</title><style>{STYLE}</style></head><body><header><h1>{title}</h1><p>{subtitle}</p><p><span id="period">{pl}{colon}{period}</span> · {profile} · {gl} {generated}</p>{left_out}</header><main>"#,
        lang = t.lang,
        colon = escape(t.colon),
        title = escape(t.title),
        subtitle = escape(t.subtitle),
        pl = escape(t.period),
        period = escape(&period(t, report)),
        profile = profile_statement(t, report, ctx),
        left_out = match report.feedback_without_decision {
            Some(n) => format!(
                r#"<p id="left-out" data-count="{n}">{}{}{n}</p>"#,
                escape(t.left_out),
                escape(t.colon)
            ),
            None => String::new(),
        },
        gl = escape(t.generated),
        generated = escape(&t.date_time(ctx.generated_at)),
    );
    if let Some(action) = &ctx.form_action {
        let day = |s: Option<&str>| {
            s.and_then(parse_time)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let until_day = report
            .until
            .as_deref()
            .and_then(parse_time)
            .map(|u| {
                (u - chrono::Duration::milliseconds(1))
                    .format("%Y-%m-%d")
                    .to_string()
            })
            .unwrap_or_default();
        let _ = write!(
            out,
            r#"<section id="filters"><h2>{f}</h2><form method="get" action="{a}"><label>{from}<input type="date" name="since" value="{s}"></label><label>{to}<input type="date" name="until" value="{u}"></label><label>{prl}<select name="profile">{options}</select></label><button type="submit">{apply}</button></form></section>"#,
            f = escape(t.filters),
            a = escape(action),
            from = escape(t.from),
            to = escape(t.to),
            s = escape(&day(report.since.as_deref())),
            u = escape(&until_day),
            prl = escape(t.profile),
            options = profile_options(t, report),
            apply = escape(t.apply),
        );
    }
    if report.is_empty() {
        let _ = write!(
            out,
            r#"<p id="empty" class="empty">{}</p>"#,
            escape(t.empty)
        );
        out.push_str("</main></body></html>\n");
        return out;
    }
    headline(&mut out, t, report);
    per_rule_table(&mut out, t, ctx.language, report);
    monthly(&mut out, t, ctx.language, report);
    reasons(&mut out, t, ctx.language, report);
    rate(&mut out, t, report);
    decisions(&mut out, t, ctx.language, report);
    out.push_str("</main></body></html>\n");
    out
}

fn headline(out: &mut String, t: &ReportTexts, report: &Report) {
    let s = totals(report);
    let _ = write!(
        out,
        r#"<section id="headline"><h2>{}</h2><div class="kpis">"#,
        escape(t.headline)
    );
    for (k, label, v) in [
        ("cardsShown", t.cards_shown, s.cards_shown),
        ("distinctOrders", t.distinct_orders, s.distinct_orders),
        ("criticalCards", t.critical_cards, s.critical_cards),
        ("overrides", t.overrides, s.overrides),
        (
            "criticalOverrides",
            t.critical_overrides,
            s.critical_overrides,
        ),
        ("accepted", t.accepted, s.accepted),
        (
            "acceptedSuggestions",
            t.accepted_suggestions,
            s.accepted_suggestions,
        ),
    ] {
        let _ = write!(
            out,
            r#"<div class="kpi"><div class="v" data-total="{k}">{v}</div><div class="l">{}</div></div>"#,
            escape(label)
        );
    }
    let _ = write!(
        out,
        r#"<div class="kpi"><div class="v" data-total="criticalOverrideRate">{}</div><div class="l">{}</div></div></div></section>"#,
        escape(&t.percent(s.critical_overrides, s.critical_cards)),
        escape(t.critical_override_rate)
    );
}

fn per_rule_table(out: &mut String, t: &ReportTexts, language: Language, report: &Report) {
    let _ = write!(
        out,
        r#"<section id="rules"><h2>{}</h2><table><thead><tr><th>{}</th>"#,
        escape(t.per_rule),
        escape(t.rule)
    );
    let columns = [
        ("cardsShown", t.cards_shown),
        ("distinctOrders", t.distinct_orders),
        ("criticalCards", t.critical_cards),
        ("accepted", t.accepted),
        ("acceptedSuggestions", t.accepted_suggestions),
        ("overrides", t.overrides),
        ("criticalOverrides", t.critical_overrides),
    ];
    for (_, label) in columns {
        let _ = write!(out, r#"<th class="n">{}</th>"#, escape(label));
    }
    out.push_str("</tr></thead><tbody>");
    for r in &report.rules {
        let values = [
            r.cards_shown,
            r.distinct_orders,
            r.critical_cards,
            r.accepted,
            r.accepted_suggestions,
            r.overrides,
            r.critical_overrides,
        ];
        let _ = write!(
            out,
            r#"<tr data-rule="{code}"><td>{label}<br><code>{code}</code></td>"#,
            code = escape(&r.rule),
            label = escape(&rule_label(t, language, &r.rule)),
        );
        for ((k, _), v) in columns.iter().zip(values) {
            let _ = write!(
                out,
                r#"<td class="n" data-rule="{}" data-k="{k}">{v}</td>"#,
                escape(&r.rule)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    unrecognised_indicators(out, t, language, report);
    out.push_str("</section>");
}

/// The rules with cards stored under an unrecognised indicator, said rather than dropped.
fn unrecognised_indicators(out: &mut String, t: &ReportTexts, language: Language, report: &Report) {
    let rules: Vec<&RuleReport> = report
        .rules
        .iter()
        .filter(|r| r.unrecognised_indicators > 0)
        .collect();
    if rules.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<p class="note" id="unrecognised-indicators">{}{}"#,
        escape(t.unrecognised_indicators),
        escape(t.colon)
    );
    for (i, r) in rules.iter().enumerate() {
        let _ = write!(
            out,
            r#"{sep}{label} <span data-rule="{code}" data-k="unrecognisedIndicators">{n}</span>"#,
            sep = if i == 0 { "" } else { ", " },
            label = escape(&rule_label(t, language, &r.rule)),
            code = escape(&r.rule),
            n = r.unrecognised_indicators,
        );
    }
    out.push_str("</p>");
}

fn monthly(out: &mut String, t: &ReportTexts, language: Language, report: &Report) {
    let _ = write!(
        out,
        r#"<section id="monthly"><h2>{}</h2><p class="note">{}</p>"#,
        escape(t.monthly),
        escape(t.monthly_note)
    );
    for (i, r) in report
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.by_month.is_empty())
    {
        let months: Vec<String> = r.by_month.iter().map(|m| t.month_label(&m.month)).collect();
        let pick = |f: fn(&super::MonthCounts) -> u64| r.by_month.iter().map(f).collect();
        let title = format!("{} — {}", rule_label(t, language, &r.rule), t.monthly);
        let _ = write!(
            out,
            r#"<h3 data-rule="{}">{}</h3>"#,
            escape(&r.rule),
            escape(&rule_label(t, language, &r.rule))
        );
        out.push_str(&svg::grouped_bars(
            &format!("chart-monthly-{i}"),
            &title,
            &months,
            &[
                Series {
                    label: t.cards_shown,
                    color: svg::BLUE,
                    values: pick(|m| m.cards_shown),
                },
                Series {
                    label: t.critical_cards,
                    color: svg::ORANGE,
                    values: pick(|m| m.critical_cards),
                },
                Series {
                    label: t.overrides,
                    color: svg::VERMILION,
                    values: pick(|m| m.overrides),
                },
                Series {
                    label: t.accepted_suggestions,
                    color: svg::GREEN,
                    values: pick(|m| m.accepted_suggestions),
                },
            ],
        ));
    }
    out.push_str("</section>");
}

fn reasons(out: &mut String, t: &ReportTexts, language: Language, report: &Report) {
    let _ = write!(
        out,
        r#"<section id="reasons"><h2>{}</h2>"#,
        escape(t.reasons)
    );
    let overridden: Vec<(usize, &RuleReport)> = report
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.overrides > 0)
        .collect();
    if overridden.is_empty() {
        let _ = write!(out, r#"<p class="note">{}</p>"#, escape(t.reasons_none));
    }
    for (i, r) in overridden {
        let label = rule_label(t, language, &r.rule);
        let _ = write!(
            out,
            r#"<h3 data-rule="{}">{} — {}{}{}</h3>"#,
            escape(&r.rule),
            escape(&label),
            escape(t.overrides),
            escape(t.colon),
            r.overrides
        );
        let items: Vec<HBar> = r
            .overrides_by_reason
            .iter()
            .map(|x| HBar {
                label: reason_text(&x.code, x.display.as_deref(), t),
                count: x.count,
                share: t.percent(x.count, r.overrides),
            })
            .collect();
        out.push_str(&svg::hbars(
            &format!("chart-reasons-{i}"),
            &format!("{label} — {}", t.reasons),
            &items,
        ));
    }
    out.push_str("</section>");
}

fn rate(out: &mut String, t: &ReportTexts, report: &Report) {
    let _ = write!(
        out,
        r#"<section id="rate"><h2>{}</h2><p class="note">{}</p>"#,
        escape(t.rate_title),
        escape(t.rate_note)
    );
    let months: Vec<String> = report
        .by_month
        .iter()
        .map(|m| t.month_label(&m.month))
        .collect();
    let rates: Vec<Option<(u64, u64)>> = report
        .by_month
        .iter()
        .map(|m| (m.critical_cards > 0).then_some((m.critical_overrides, m.critical_cards)))
        .collect();
    out.push_str(&svg::rate_bars(
        "chart-rate",
        t.rate_title,
        &months,
        &rates,
        |n, d| t.percent(n, d),
        t.rate_no_critical,
    ));
    out.push_str("</section>");
}

/// Overrides of critical cards, and of cards unknown to this service or stored with an
/// unrecognised indicator (they may have been).
fn listed(d: &OverrideDecision) -> bool {
    match &d.indicator {
        None | Some(StoredIndicator::Unrecognised(_)) => true,
        Some(StoredIndicator::Known(i)) => *i == Indicator::Critical,
    }
}

fn decisions(out: &mut String, t: &ReportTexts, language: Language, report: &Report) {
    let _ = write!(
        out,
        r#"<section id="decisions"><h2>{}</h2><p class="note">{}</p>"#,
        escape(t.decisions),
        escape(t.decisions_note)
    );
    let rows: Vec<(&RuleReport, &OverrideDecision)> = report
        .rules
        .iter()
        .flat_map(|r| r.override_decisions.iter().map(move |d| (r, d)))
        .filter(|(_, d)| listed(d))
        .collect();
    if rows.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">{}</p></section>"#,
            escape(t.decisions_none)
        );
        return;
    }
    let _ = write!(
        out,
        r#"<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>"#,
        escape(t.date),
        escape(t.rule),
        escape(t.order),
        escape(t.reason),
        escape(t.comment),
        escape(t.profile),
        escape(t.issuer),
        escape(t.flags)
    );
    for (r, d) in rows {
        let date = parse_time(&d.outcome_time)
            .map(|x| t.date_time(x))
            .unwrap_or_else(|| d.outcome_time.clone());
        let reason = match &d.reason {
            Some(c) => reason_text(&c.code, d.reason_display.as_deref(), t),
            None => t.no_reason.to_owned(),
        };
        let flags: String = d
            .flags
            .iter()
            .map(|f| {
                format!(
                    r#"<span class="flag" data-flag="{}">{}</span>"#,
                    escape(f),
                    escape(&t.flag(f))
                )
            })
            .collect();
        let _ = write!(
            out,
            r#"<tr class="decision" data-card="{card}" data-flags="{fl}"><td>{date}</td><td>{rule}</td><td><code>{order}</code></td><td>{reason}</td><td>{comment}</td><td><code>{profile}</code></td><td class="issuer"><code>{issuer}</code></td><td>{flags}</td></tr>"#,
            card = escape(&d.card_uuid),
            fl = escape(&d.flags.join(" ")),
            date = escape(&date),
            rule = escape(&rule_label(t, language, &r.rule)),
            order = escape(d.order_id.as_deref().unwrap_or("—")),
            reason = escape(&reason),
            comment = escape(d.user_comment.as_deref().unwrap_or("")),
            profile = escape(d.profile.as_deref().unwrap_or("—")),
            issuer = escape(d.issuer.as_deref().unwrap_or("—")),
        );
    }
    out.push_str("</tbody></table></section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::CardSettings;
    use crate::report::build;
    use crate::store::db::{FeedbackRow, IssuedCard};
    use crate::store::model::{
        CardRecord, Feedback, FeedbackFlag, FeedbackOutcome, FeedbackRecord, ReasonCode,
    };

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    fn card(uuid: &str, topic: &str, indicator: &str, issued: &str) -> IssuedCard {
        IssuedCard {
            card: CardRecord {
                uuid: uuid.into(),
                topic: topic.into(),
                indicator: indicator.into(),
                order_ref: Some(format!("MedicationRequest/{uuid}")),
                suggestion_uuids: vec!["s1".into()],
                override_reasons: Vec::new(),
            },
            hook_instance: format!("hi-{uuid}"),
            service: "alemtuzumab-order-sign".into(),
            issued_at: at(issued),
            patient_id: Some("p-1".into()),
            profile: Some("ansm-2019".into()),
        }
    }

    fn overridden(card: Option<&IssuedCard>, code: &str, comment: &str, at_: &str) -> FeedbackRow {
        FeedbackRow {
            record: FeedbackRecord {
                id: uuid::Uuid::new_v4().to_string(),
                received_at: at(at_),
                service: "alemtuzumab-order-sign".into(),
                issuer: None,
                feedback: Feedback {
                    card: card.map(|c| c.card.uuid.clone()).unwrap_or("zz".into()),
                    outcome: FeedbackOutcome::Overridden,
                    accepted_suggestions: vec![],
                    reason: Some(ReasonCode {
                        system: None,
                        code: code.into(),
                        display: None,
                    }),
                    user_comment: Some(comment.into()),
                    outcome_timestamp: at(at_),
                },
                flags: if card.is_none() {
                    vec![FeedbackFlag::UnknownCard]
                } else {
                    vec![]
                },
            },
            card: card.cloned(),
        }
    }

    /// Issue 15: the page says which rule profile its figures are of, and its form offers the
    /// profiles with the current one selected.
    #[test]
    fn the_page_states_its_profile_filter() {
        let c1 = card(
            "c1",
            "initiation-eligibility",
            "critical",
            "2026-10-03T10:00:00Z",
        );
        let mut report = build(&[c1], &[], None, None, &CardSettings::default());
        let ctx = PageContext {
            language: Language::En,
            form_action: Some("/admin/report".into()),
            ..PageContext::default()
        };
        let all = page(&report, &ctx);
        assert!(
            all.contains(
                r#"data-profile="all">Rule set: all rule sets (in force <code>ansm-2019</code>)"#
            ),
            "{all}"
        );
        assert!(
            all.contains(r#"<option value="" selected>all rule sets</option>"#),
            "{all}"
        );
        assert!(!all.contains("id=\"left-out\""), "{all}");
        report.profile = Some("ema-2020".into());
        report.feedback_without_decision = Some(2);
        let ema = page(&report, &ctx);
        assert!(
            ema.contains(r#"data-profile="ema-2020">Rule set: <code>ema-2020</code>"#),
            "{ema}"
        );
        assert!(
            ema.contains(r#"<option value="ema-2020" selected>"#),
            "{ema}"
        );
        assert!(
            ema.contains(r#"<option value="">all rule sets</option>"#),
            "{ema}"
        );
        assert!(ema.contains(r#"id="left-out" data-count="2""#), "{ema}");
    }

    /// Issue 16: an override of a card stored with an unrecognised indicator is listed (it may
    /// have been critical), and the page says how many such cards each rule has.
    #[test]
    fn an_unrecognised_indicator_is_listed_and_said() {
        let odd = card("odd", "liver-function", "hard-stop", "2026-10-03T10:00:00Z");
        let warn = card("warn", "liver-function", "warning", "2026-10-03T10:00:00Z");
        let feedback = [
            overridden(Some(&odd), "other", "", "2026-10-04T10:00:00Z"),
            overridden(Some(&warn), "other", "", "2026-10-04T10:00:00Z"),
        ];
        let report = build(
            &[odd, warn],
            &feedback,
            None,
            None,
            &CardSettings::default(),
        );
        let html = page(&report, &PageContext::default());
        assert!(html.contains(r#"data-card="odd""#), "{html}");
        assert!(!html.contains(r#"data-card="warn""#), "{html}");
        assert!(
            html.contains(
                r#"<span data-rule="liver-function" data-k="unrecognisedIndicators">1</span>"#
            ),
            "{html}"
        );
        let plain = build(&[], &[], None, None, &CardSettings::default());
        assert!(!page(&plain, &PageContext::default()).contains("unrecognised-indicators"));
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_in_the_configured_language() {
        let c1 = card(
            "c1",
            "initiation-eligibility",
            "critical",
            "2026-10-03T10:00:00Z",
        );
        let c2 = card(
            "c2",
            "initiation-eligibility",
            "critical",
            "2026-11-03T10:00:00Z",
        );
        let c3 = card("c3", "liver-function", "warning", "2026-11-04T10:00:00Z");
        let feedback = vec![
            overridden(
                Some(&c1),
                "committee-approved",
                "<img src=x onerror=alert(1)>",
                "2026-10-03T11:00:00Z",
            ),
            overridden(None, "other", "who?", "2026-11-05T11:00:00Z"),
            overridden(Some(&c3), "other", "not listed", "2026-11-05T12:00:00Z"),
        ];
        let report = build(
            &[c1, c2, c3],
            &feedback,
            None,
            None,
            &CardSettings::default(),
        );
        assert_eq!(
            report
                .by_month
                .iter()
                .map(|m| m.month.as_str())
                .collect::<Vec<_>>(),
            ["2026-10", "2026-11"]
        );
        assert_eq!(report.by_month[0].critical_overrides, 1);
        for language in [Language::Fr, Language::En] {
            let ctx = PageContext {
                language,
                ..PageContext::default()
            };
            let html = page(&report, &ctx);
            assert!(!html.contains("<script"), "no script");
            assert!(!html.contains("<img"), "user text is escaped: {html}");
            assert!(!html.contains("href="), "no link to anything");
            assert!(html.contains("&lt;img src=x"), "{html}");
            assert!(html.contains(r#"data-total="cardsShown">3<"#), "{html}");
            assert!(
                html.contains(r#"data-total="criticalOverrides">1<"#),
                "{html}"
            );
            // Monthly and reasons for three rules (one is the unknown card's), one rate chart.
            assert_eq!(html.matches("<svg").count(), 3 + 3 + 1, "{html}");
            // Critical and unknown-card overrides are listed, the warning one is not.
            assert_eq!(html.matches(r#"<tr class="decision""#).count(), 2);
            assert!(html.contains(r#"data-flags="unknown-card""#));
            match language {
                Language::Fr => {
                    assert!(html.contains("lang=\"fr\""));
                    assert!(html.contains("03/10/2026 11:00 UTC"), "{html}");
                    assert!(html.contains("oct. 2026"));
                }
                Language::En => {
                    assert!(html.contains("lang=\"en\""));
                    assert!(html.contains("3 Oct 2026 11:00 UTC"), "{html}");
                    assert!(html.contains("Oct 2026"));
                }
            }
        }
        let empty = build(&[], &[], None, None, &CardSettings::default());
        let ctx = PageContext {
            language: Language::En,
            ..PageContext::default()
        };
        let html = page(&empty, &ctx);
        assert!(html.contains("No decision in this period."), "{html}");
        assert!(!html.contains("<svg"));
    }
}

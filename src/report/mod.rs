//! `alemtuzumab-cds report`: what the drug committee reviews (issue 6 §4). Per rule (the card's
//! `source.topic.code`): cards shown, distinct draft orders, critical cards, feedback accepted and
//! suggestions accepted, overrides by reason, and each override linked to its decision
//! (hookInstance, order, card).
//!
//! It reads as people speak (issue 12 item 5):
//! - An override reason is named by its display as well as its code: for a reason the cards
//!   offer (src/cards/mod.rs `OverrideReason`), the display in the configured `rules.language`;
//!   otherwise the display offered on the card, else the one the EHR sent.
//! - `distinctOrders` counts each draft order once per period (patient and `MedicationRequest`
//!   reference) beside the raw `cardsShown`: the CDS Hooks Sandbox re-sends `order-select` on
//!   every edit of the same draft, and `order-sign` of that draft is the same order too. Cards
//!   without a draft order (`patient-view`) are in `cardsShown` only. The Sandbox names every
//!   draft `MedicationRequest/request-123`, so two successive drafts for one patient count once.
//!
//! Cards count in the period they were issued, feedback in the period it was received. Feedback
//! about a card this service has no record of (never issued, or purged) is reported under
//! `(unknown card)`, never left out.
//!
//! Filtered on a rule profile (`--profile`, `?profile=`; issue 15), the report counts the cards
//! of decisions made under that profile (each decision records the `rules.profile` in force) and
//! the feedback about those cards. Feedback about a card with no recorded decision belongs to no
//! profile: such a report leaves it out and says how many items it left out
//! (`feedbackWithoutDecision`). Each override names the profile of its decision and the JWT
//! issuer (`iss`) its feedback came with (issue 17 item 14).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer};

use crate::cards::{CardSettings, OverrideReason, DEFAULT_OVERRIDE_REASON_SYSTEM};
use crate::rules::{Profile, RuleCode};
use crate::store::db::{FeedbackRow, IssuedCard};
use crate::store::model::{FeedbackOutcome, ReasonCode};
use crate::store::{Store, StoreError};
use crate::wire::response::Indicator;

pub mod html;
pub mod svg;
pub mod text;

/// The group of feedback whose card is unknown.
pub const UNKNOWN_CARD: &str = "(unknown card)";

/// A card's indicator as the store holds it, read at the store→report edge: the report compares
/// [`Indicator`]s, never the stored text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredIndicator {
    Known(Indicator),
    /// Text that is no CDS Hooks indicator (a damaged row, or one written by another version).
    /// Such a card is not counted as critical, nor left out: the rule counts it in
    /// `unrecognisedIndicators`, and its overrides are listed with those of critical cards (it
    /// may have been one), like those of unknown cards.
    Unrecognised(String),
}

impl StoredIndicator {
    pub fn parse(stored: &str) -> StoredIndicator {
        [Indicator::Info, Indicator::Warning, Indicator::Critical]
            .into_iter()
            .find(|i| i.as_str() == stored)
            .map_or_else(
                || StoredIndicator::Unrecognised(stored.to_owned()),
                StoredIndicator::Known,
            )
    }

    /// The text as stored.
    pub fn as_str(&self) -> &str {
        match self {
            StoredIndicator::Known(i) => i.as_str(),
            StoredIndicator::Unrecognised(s) => s,
        }
    }

    pub fn is_critical(&self) -> bool {
        *self == StoredIndicator::Known(Indicator::Critical)
    }
}

/// Written as stored, so the JSON report reads as before.
impl Serialize for StoredIndicator {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    /// One self-contained page with charts (src/report/html.rs).
    Html,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Start of the period (inclusive), RFC 3339, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// End of the period (exclusive), RFC 3339, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The rule profile the figures are filtered on (`ansm-2019`, `ema-2020`); absent: every
    /// profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Filtered on a profile: feedback items of the period about cards with no recorded
    /// decision, which belong to no profile and are left out of the figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_without_decision: Option<u64>,
    pub rules: Vec<RuleReport>,
    /// All rules together, per calendar month (UTC), from the first month with a card or a
    /// feedback to the last, months without either included as zeros.
    pub by_month: Vec<MonthCounts>,
}

/// The counts of one calendar month (UTC): cards by the month they were issued, feedback by the
/// month it was received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthCounts {
    /// `YYYY-MM`.
    pub month: String,
    pub cards_shown: u64,
    pub critical_cards: u64,
    pub overrides: u64,
    /// Overrides of cards issued as `critical`.
    pub critical_overrides: u64,
    pub accepted_suggestions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub rule: String,
    pub cards_shown: u64,
    /// Distinct draft orders (patient and order reference) the cards were about in the period.
    pub distinct_orders: u64,
    pub critical_cards: u64,
    /// Feedback items with outcome `accepted`.
    pub accepted: u64,
    /// Suggestion ids accepted in those items.
    pub accepted_suggestions: u64,
    pub overrides: u64,
    /// Overrides of cards issued as `critical`.
    pub critical_overrides: u64,
    /// Cards shown whose stored indicator is none of `info`, `warning`, `critical`
    /// ([`StoredIndicator::Unrecognised`]); absent when none.
    #[serde(skip_serializing_if = "is_zero")]
    pub unrecognised_indicators: u64,
    pub overrides_by_reason: Vec<ReasonCount>,
    pub override_decisions: Vec<OverrideDecision>,
    /// This rule per month over the report's month range (empty for a rule with no activity).
    pub by_month: Vec<MonthCounts>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonCount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The reason code, or `(none)` for an override with only a comment.
    pub code: String,
    /// What the prescriber read: see the module documentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    pub count: u64,
}

/// One override and the decision it overrode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverrideDecision {
    pub card_uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_instance: Option<String>,
    /// The rule profile the decision was made under (unknown for an unknown card).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The `iss` of the verified JWT the feedback came with; absent for unsigned calls (local
    /// mode) and feedback stored before issuers were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The draft order the card was about (`MedicationRequest/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    pub service: String,
    /// The overridden card's indicator; absent for an unknown card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator: Option<StoredIndicator>,
    /// When the card was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_time: Option<String>,
    /// `outcomeTimestamp` as the EHR sent it (UTC).
    pub outcome_time: String,
    pub received_time: String,
    /// The reason as the EHR sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonCode>,
    /// The reason's display as the prescriber read it (see the module documentation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_display: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_comment: Option<String>,
    pub flags: Vec<String>,
}

/// What a report covers: a period and, optionally, one rule profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    /// From (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Only decisions made under this rule profile.
    pub profile: Option<Profile>,
}

/// Reads `--profile` / `?profile=`: a rule profile, as `rules.profile` names them.
pub fn parse_profile(text: &str) -> Result<Profile, String> {
    let t = text.trim();
    Profile::parse(t).ok_or_else(|| {
        let shown: String = t.chars().take(100).flat_map(char::escape_default).collect();
        format!(
            "`{shown}`: expected {} or {}",
            Profile::Ansm2019.as_str(),
            Profile::Ema2020.as_str()
        )
    })
}

/// Reads the cards and feedback of `scope` from the store and builds the report (the command
/// line and `GET /admin/report`).
pub async fn load(
    store: &Store,
    scope: &Scope,
    settings: &CardSettings,
) -> Result<Report, StoreError> {
    let from = scope.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let to = scope
        .until
        .unwrap_or_else(|| Utc::now() + chrono::Duration::days(1));
    let profile = scope.profile.map(Profile::as_str);
    let cards = store.cards_between(from, to, profile).await?;
    let feedback = store.feedback_between(from, to, profile).await?;
    let left_out = match profile {
        Some(_) => Some(store.feedback_without_decision_between(from, to).await?),
        None => None,
    };
    let mut report = build(&cards, &feedback, scope.since, scope.until, settings);
    report.profile = profile.map(str::to_owned);
    report.feedback_without_decision = left_out;
    Ok(report)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads `--since` / `--until`: a date (`YYYY-MM-DD`, UTC) or an RFC 3339 instant. A date given
/// as `until` includes that whole day.
pub fn parse_bound(text: &str, is_until: bool) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let d = if is_until {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return d
            .and_hms_opt(0, 0, 0)
            .map(|dt| dt.and_utc())
            .ok_or_else(|| format!("`{t}` is out of range"));
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("`{t}` is neither YYYY-MM-DD nor an RFC 3339 instant"))
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The reason the cards offer that `reason` names: one of our codes, with our system (default
/// or configured) or none.
fn our_reason(reason: &ReasonCode, settings: &CardSettings) -> Option<OverrideReason> {
    let ours = match non_blank(reason.system.as_deref()) {
        None => true,
        Some(s) => {
            s == DEFAULT_OVERRIDE_REASON_SYSTEM
                || Some(s) == non_blank(Some(&settings.override_reason_system))
        }
    };
    if ours {
        OverrideReason::from_code(reason.code.trim())
    } else {
        None
    }
}

/// The display of an override reason as the prescriber read it: the configured language's for a
/// reason the cards offer, else the one offered on the card, else the one the EHR sent.
fn reason_display(
    reason: &ReasonCode,
    card: Option<&IssuedCard>,
    settings: &CardSettings,
) -> Option<String> {
    if let Some(r) = our_reason(reason, settings) {
        return Some(r.display(settings.language).to_owned());
    }
    let system = non_blank(reason.system.as_deref());
    let offered = card.and_then(|c| {
        c.card
            .override_reasons
            .iter()
            .find(|o| {
                o.code == reason.code
                    && (system.is_none() || non_blank(o.system.as_deref()) == system)
            })
            .and_then(|o| non_blank(o.display.as_deref()))
    });
    offered
        .or_else(|| non_blank(reason.display.as_deref()))
        .map(str::to_owned)
}

/// Per rule (`source.topic.code`), its counts; `(rule, month)` → the rule's counts that month
/// (months are `YYYY-MM`, UTC).
type RuleCounts = BTreeMap<String, RuleReport>;
type MonthlyCounts = BTreeMap<(String, String), MonthCounts>;

/// Builds the report from the cards issued and the feedback received in the period; `settings`
/// gives the language and override reason system of the reasons' displays.
pub fn build(
    cards: &[IssuedCard],
    feedback: &[FeedbackRow],
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    settings: &CardSettings,
) -> Report {
    let mut rules: RuleCounts = BTreeMap::new();
    let mut monthly: MonthlyCounts = BTreeMap::new();
    for code in RuleCode::ALL {
        rules.insert(code.as_str().to_owned(), new_rule(code.as_str()));
    }
    count_cards(cards, &mut rules, &mut monthly);
    for row in feedback {
        count_feedback(row, settings, &mut rules, &mut monthly);
    }
    let mut ordered = in_contract_order(rules);
    let by_month = spread_by_month(&mut ordered, monthly);
    Report {
        since: since.map(rfc3339),
        until: until.map(rfc3339),
        profile: None,
        feedback_without_decision: None,
        rules: ordered,
        by_month,
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A rule with nothing counted yet.
fn new_rule(rule: &str) -> RuleReport {
    RuleReport {
        rule: rule.to_owned(),
        cards_shown: 0,
        distinct_orders: 0,
        critical_cards: 0,
        accepted: 0,
        accepted_suggestions: 0,
        overrides: 0,
        critical_overrides: 0,
        unrecognised_indicators: 0,
        overrides_by_reason: Vec::new(),
        override_decisions: Vec::new(),
        by_month: Vec::new(),
    }
}

/// Counts the cards shown, critical and about distinct draft orders, per rule and month.
fn count_cards(cards: &[IssuedCard], rules: &mut RuleCounts, monthly: &mut MonthlyCounts) {
    // (rule, patient, order) of every card about a draft order.
    let mut orders: BTreeSet<(&str, Option<&str>, &str)> = BTreeSet::new();
    for c in cards {
        let r = rules
            .entry(c.card.topic.clone())
            .or_insert_with(|| new_rule(&c.card.topic));
        r.cards_shown += 1;
        let m = month_of(monthly, &c.card.topic, c.issued_at);
        m.cards_shown += 1;
        match StoredIndicator::parse(&c.card.indicator) {
            StoredIndicator::Known(Indicator::Critical) => {
                r.critical_cards += 1;
                m.critical_cards += 1;
            }
            StoredIndicator::Known(Indicator::Info | Indicator::Warning) => {}
            StoredIndicator::Unrecognised(_) => r.unrecognised_indicators += 1,
        }
        if let Some(order) = non_blank(c.card.order_ref.as_deref()) {
            let patient = non_blank(c.patient_id.as_deref());
            if orders.insert((&c.card.topic, patient, order)) {
                r.distinct_orders += 1;
            }
        }
    }
}

/// Counts one feedback item under its card's rule (or [`UNKNOWN_CARD`]) and month.
fn count_feedback(
    row: &FeedbackRow,
    settings: &CardSettings,
    rules: &mut RuleCounts,
    monthly: &mut MonthlyCounts,
) {
    let rule = row
        .card
        .as_ref()
        .map(|c| c.card.topic.clone())
        .unwrap_or_else(|| UNKNOWN_CARD.to_owned());
    let r = rules.entry(rule.clone()).or_insert_with(|| new_rule(&rule));
    let f = &row.record.feedback;
    let m = month_of(monthly, &rule, row.record.received_at);
    match f.outcome {
        FeedbackOutcome::Accepted => {
            r.accepted += 1;
            r.accepted_suggestions += f.accepted_suggestions.len() as u64;
            m.accepted_suggestions += f.accepted_suggestions.len() as u64;
        }
        FeedbackOutcome::Overridden => count_override(row, settings, r, m),
    }
}

/// Counts one override: in the rule's and month's counts, under its reason, and as a decision.
fn count_override(
    row: &FeedbackRow,
    settings: &CardSettings,
    r: &mut RuleReport,
    m: &mut MonthCounts,
) {
    let f = &row.record.feedback;
    r.overrides += 1;
    m.overrides += 1;
    if row
        .card
        .as_ref()
        .is_some_and(|c| StoredIndicator::parse(&c.card.indicator).is_critical())
    {
        r.critical_overrides += 1;
        m.critical_overrides += 1;
    }
    let display = f
        .reason
        .as_ref()
        .and_then(|c| reason_display(c, row.card.as_ref(), settings));
    let (system, code) = reason_key(f.reason.as_ref(), settings);
    match r
        .overrides_by_reason
        .iter_mut()
        .find(|x| x.code == code && x.system == system)
    {
        Some(x) => {
            x.count += 1;
            if x.display.is_none() {
                x.display.clone_from(&display);
            }
        }
        None => r.overrides_by_reason.push(ReasonCount {
            system,
            code,
            display: display.clone(),
            count: 1,
        }),
    }
    r.override_decisions.push(override_decision(row, display));
}

/// The (system, code) an override reason is counted under: one of our reasons counts as one,
/// sent with our system or without one.
fn reason_key(reason: Option<&ReasonCode>, settings: &CardSettings) -> (Option<String>, String) {
    match reason {
        Some(c) => match our_reason(c, settings) {
            Some(ours) => (
                Some(
                    non_blank(Some(&settings.override_reason_system))
                        .unwrap_or(DEFAULT_OVERRIDE_REASON_SYSTEM)
                        .to_owned(),
                ),
                ours.code().to_owned(),
            ),
            None => (c.system.clone(), c.code.clone()),
        },
        None => (None, "(none)".to_owned()),
    }
}

/// One override linked to its decision; `display` is the reason as the prescriber read it.
fn override_decision(row: &FeedbackRow, display: Option<String>) -> OverrideDecision {
    let f = &row.record.feedback;
    OverrideDecision {
        card_uuid: f.card.clone(),
        hook_instance: row.card.as_ref().map(|c| c.hook_instance.clone()),
        profile: row.card.as_ref().and_then(|c| c.profile.clone()),
        issuer: row.record.issuer.clone(),
        order_id: row.card.as_ref().and_then(|c| c.card.order_ref.clone()),
        service: row.record.service.clone(),
        indicator: row
            .card
            .as_ref()
            .map(|c| StoredIndicator::parse(&c.card.indicator)),
        decision_time: row.card.as_ref().map(|c| rfc3339(c.issued_at)),
        outcome_time: rfc3339(f.outcome_timestamp),
        received_time: rfc3339(row.record.received_at),
        reason: f.reason.clone(),
        reason_display: display,
        user_comment: f.user_comment.clone(),
        flags: row
            .record
            .flags
            .iter()
            .map(|x| x.as_str().to_owned())
            .collect(),
    }
}

/// The contract's rule order first, then anything else (unknown topics, unknown cards); each
/// rule's reasons most frequent first.
fn in_contract_order(mut rules: RuleCounts) -> Vec<RuleReport> {
    let mut ordered: Vec<RuleReport> = Vec::new();
    for code in RuleCode::ALL {
        if let Some(r) = rules.remove(code.as_str()) {
            ordered.push(r);
        }
    }
    ordered.extend(rules.into_values());
    for r in &mut ordered {
        r.overrides_by_reason
            .sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(&b.code)));
    }
    ordered
}

/// Gives each rule that counted anything its series over every month of the period, and returns
/// the totals per month.
fn spread_by_month(ordered: &mut [RuleReport], mut monthly: MonthlyCounts) -> Vec<MonthCounts> {
    let months = month_range(monthly.keys().map(|(_, m)| m.as_str()));
    let mut by_month: Vec<MonthCounts> = months
        .iter()
        .map(|m| MonthCounts {
            month: m.clone(),
            ..MonthCounts::default()
        })
        .collect();
    for r in ordered.iter_mut() {
        let active = monthly.keys().any(|(rule, _)| rule == &r.rule);
        if !active {
            continue;
        }
        for (i, month) in months.iter().enumerate() {
            let m = monthly
                .remove(&(r.rule.clone(), month.clone()))
                .unwrap_or_else(|| MonthCounts {
                    month: month.clone(),
                    ..MonthCounts::default()
                });
            if let Some(total) = by_month.get_mut(i) {
                total.cards_shown += m.cards_shown;
                total.critical_cards += m.critical_cards;
                total.overrides += m.overrides;
                total.critical_overrides += m.critical_overrides;
                total.accepted_suggestions += m.accepted_suggestions;
            }
            r.by_month.push(m);
        }
    }
    by_month
}

/// The counts of `rule` in the month (UTC) of `t`.
fn month_of<'a>(
    monthly: &'a mut BTreeMap<(String, String), MonthCounts>,
    rule: &str,
    t: DateTime<Utc>,
) -> &'a mut MonthCounts {
    let month = t.format("%Y-%m").to_string();
    monthly
        .entry((rule.to_owned(), month.clone()))
        .or_insert_with(|| MonthCounts {
            month,
            ..MonthCounts::default()
        })
}

/// Every month (`YYYY-MM`) from the earliest to the latest of `months`, in order.
fn month_range<'a>(months: impl Iterator<Item = &'a str>) -> Vec<String> {
    let parsed: BTreeSet<(i32, u32)> = months
        .filter_map(|m| {
            let (y, mo) = m.split_once('-')?;
            Some((y.parse().ok()?, mo.parse().ok()?))
        })
        .collect();
    let (Some(&first), Some(&last)) = (parsed.first(), parsed.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (mut y, mut m) = first;
    while (y, m) <= last {
        out.push(format!("{y:04}-{m:02}"));
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    out
}

impl Report {
    /// Whether the period holds no card and no feedback at all.
    pub fn is_empty(&self) -> bool {
        self.rules
            .iter()
            .all(|r| r.cards_shown == 0 && r.accepted == 0 && r.overrides == 0)
    }
}

/// Renders the report.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            serde_json::to_string_pretty(report)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
                + "\n"
        }
        Format::Csv => csv(report),
        Format::Table => table(report),
        // The page's words and dates follow a language: callers with settings use
        // `html::page` with the configured one (src/cli.rs, src/web/admin.rs).
        Format::Html => html::page(report, &html::PageContext::default()),
    }
}

/// One CSV cell. A cell starting with `=`, `+`, `-`, `@`, TAB or CR is a formula to a
/// spreadsheet: comments, reason codings, card ids and `hookInstance` come from the EHR and its
/// users, so such a cell gets a leading `'` (OWASP "CSV injection"; issue 17 item 1). Numbers
/// and timestamps this service writes never start with those characters.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Text for the `table` format, which is read in a terminal: control characters (line breaks,
/// TAB, ESC of ANSI sequences, C1) and bidirectional overrides are written as `\u{…}` escapes
/// (`\n` for a line break), so a comment can neither fake a line of the report nor restyle or
/// reorder the terminal (issue 17 item 1).
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        let bidi = matches!(ch, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if ch.is_control() || bidi {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

fn csv_row(out: &mut String, fields: &[&str]) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(","));
    out.push('\n');
}

/// The number of CSV columns.
const CSV_COLUMNS: usize = 21;

const CSV_HEADER: [&str; CSV_COLUMNS] = [
    "record",
    "rule",
    "cards_shown",
    "distinct_orders",
    "critical_cards",
    "accepted",
    "accepted_suggestions",
    "overrides",
    "reason_system",
    "reason_code",
    "reason_display",
    "count",
    "card_uuid",
    "hook_instance",
    "order_id",
    "decision_time",
    "outcome_time",
    "user_comment",
    "flags",
    "profile",
    "issuer",
];

/// One CSV: `rule` rows (the counts), `reason` rows (overrides per reason), `override` rows
/// (each override with its decision). Filter on the first column in a spreadsheet.
/// `reason_display` is what the prescriber read (see the module documentation). `profile` is,
/// on `rule` and `reason` rows, the profile the figures are filtered on (`all`: not filtered)
/// and, on `override` rows, the profile of the overridden decision; `issuer` is the JWT issuer
/// the override came with. A report filtered on a profile ends with a `left-out` row: the
/// feedback items about cards with no recorded decision, in `count`. A rule with cards stored
/// under an unrecognised indicator has an `unrecognised-indicator` row (their number in `count`).
fn csv(report: &Report) -> String {
    let mut out = String::new();
    let scope = report.profile.as_deref().unwrap_or("all");
    csv_row(&mut out, &CSV_HEADER);
    for r in &report.rules {
        let n = |v: u64| v.to_string();
        let (shown, orders, critical, accepted, sugg, overrides) = (
            n(r.cards_shown),
            n(r.distinct_orders),
            n(r.critical_cards),
            n(r.accepted),
            n(r.accepted_suggestions),
            n(r.overrides),
        );
        let mut row = [""; CSV_COLUMNS];
        row[0] = "rule";
        row[1] = &r.rule;
        row[2] = &shown;
        row[3] = &orders;
        row[4] = &critical;
        row[5] = &accepted;
        row[6] = &sugg;
        row[7] = &overrides;
        row[19] = scope;
        csv_row(&mut out, &row);
        if r.unrecognised_indicators > 0 {
            let count = r.unrecognised_indicators.to_string();
            let mut row = [""; CSV_COLUMNS];
            row[0] = "unrecognised-indicator";
            row[1] = &r.rule;
            row[11] = &count;
            row[19] = scope;
            csv_row(&mut out, &row);
        }
        for reason in &r.overrides_by_reason {
            let count = reason.count.to_string();
            let mut row = [""; CSV_COLUMNS];
            row[0] = "reason";
            row[1] = &r.rule;
            row[8] = reason.system.as_deref().unwrap_or("");
            row[9] = &reason.code;
            row[10] = reason.display.as_deref().unwrap_or("");
            row[11] = &count;
            row[19] = scope;
            csv_row(&mut out, &row);
        }
        for d in &r.override_decisions {
            let flags = d.flags.join(" ");
            let mut row = [""; CSV_COLUMNS];
            row[0] = "override";
            row[1] = &r.rule;
            row[8] = d
                .reason
                .as_ref()
                .and_then(|c| c.system.as_deref())
                .unwrap_or("");
            row[9] = d.reason.as_ref().map(|c| c.code.as_str()).unwrap_or("");
            row[10] = d.reason_display.as_deref().unwrap_or("");
            row[12] = &d.card_uuid;
            row[13] = d.hook_instance.as_deref().unwrap_or("");
            row[14] = d.order_id.as_deref().unwrap_or("");
            row[15] = d.decision_time.as_deref().unwrap_or("");
            row[16] = &d.outcome_time;
            row[17] = d.user_comment.as_deref().unwrap_or("");
            row[18] = &flags;
            row[19] = d.profile.as_deref().unwrap_or("");
            row[20] = d.issuer.as_deref().unwrap_or("");
            csv_row(&mut out, &row);
        }
    }
    if let Some(n) = report.feedback_without_decision {
        let count = n.to_string();
        let mut row = [""; CSV_COLUMNS];
        row[0] = "left-out";
        row[1] = UNKNOWN_CARD;
        row[11] = &count;
        row[19] = scope;
        csv_row(&mut out, &row);
    }
    out
}

/// A reason as people speak: its display, then its code in brackets (the code alone when no
/// display is known).
fn spoken_reason(code: &str, display: Option<&str>) -> String {
    match display {
        Some(d) => format!("{} [{}]", plain(d), plain(code)),
        None => plain(code),
    }
}

fn table(report: &Report) -> String {
    let mut out = String::new();
    table_heading(&mut out, report);
    table_counts(&mut out, report);
    for r in report.rules.iter().filter(|r| r.overrides > 0) {
        table_overrides(&mut out, r);
    }
    out
}

/// The period and the profile the figures are filtered on.
fn table_heading(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "Alemtuzumab CDS report, {} to {}",
        plain(report.since.as_deref().unwrap_or("the beginning")),
        plain(report.until.as_deref().unwrap_or("now"))
    );
    match &report.profile {
        Some(p) => {
            let _ = writeln!(
                out,
                "Rule profile: {} (decisions made under it only; {} feedback item(s) about cards \
                 with no recorded decision left out)",
                plain(p),
                report.feedback_without_decision.unwrap_or(0)
            );
        }
        None => {
            let _ = writeln!(out, "Rule profile: all");
        }
    }
}

/// One line of counts per rule.
fn table_counts(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\n{:<24} {:>11} {:>15} {:>9} {:>9} {:>12} {:>10}",
        "rule",
        "cards shown",
        "distinct orders",
        "critical",
        "accepted",
        "suggestions",
        "overrides"
    );
    for r in &report.rules {
        let _ = writeln!(
            out,
            "{:<24} {:>11} {:>15} {:>9} {:>9} {:>12} {:>10}",
            plain(&r.rule),
            r.cards_shown,
            r.distinct_orders,
            r.critical_cards,
            r.accepted,
            r.accepted_suggestions,
            r.overrides
        );
    }
    for r in report
        .rules
        .iter()
        .filter(|r| r.unrecognised_indicators > 0)
    {
        let _ = writeln!(
            out,
            "{}: {} card(s) stored with an unrecognised indicator (not counted as critical)",
            plain(&r.rule),
            r.unrecognised_indicators
        );
    }
}

/// The overrides of one rule: per reason, then each decision.
fn table_overrides(out: &mut String, r: &RuleReport) {
    let _ = writeln!(out, "\nOverrides of {}:", plain(&r.rule));
    for reason in &r.overrides_by_reason {
        let _ = writeln!(
            out,
            "  {:>4} × {}",
            reason.count,
            spoken_reason(&reason.code, reason.display.as_deref())
        );
    }
    for d in &r.override_decisions {
        let reason = match &d.reason {
            Some(c) => spoken_reason(&c.code, d.reason_display.as_deref()),
            None => "(none)".to_owned(),
        };
        let _ = writeln!(
            out,
            "  - {} card {} order {} hookInstance {} profile {} issuer {} reason {}{}{}",
            plain(&d.outcome_time),
            plain(&d.card_uuid),
            plain(d.order_id.as_deref().unwrap_or("-")),
            plain(d.hook_instance.as_deref().unwrap_or("-")),
            plain(d.profile.as_deref().unwrap_or("-")),
            plain(d.issuer.as_deref().unwrap_or("-")),
            reason,
            d.user_comment
                .as_deref()
                .map(|c| format!(" comment \"{}\"", plain(c)))
                .unwrap_or_default(),
            if d.flags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", plain(&d.flags.join(", ")))
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::Language;
    use crate::store::model::{CardRecord, Feedback, FeedbackFlag, FeedbackRecord};

    fn card(uuid: &str, topic: &str, indicator: &str) -> IssuedCard {
        IssuedCard {
            card: CardRecord {
                uuid: uuid.into(),
                topic: topic.into(),
                indicator: indicator.into(),
                order_ref: Some("MedicationRequest/mr-1".into()),
                suggestion_uuids: vec!["s1".into()],
                override_reasons: Vec::new(),
            },
            hook_instance: "hi-1".into(),
            service: "alemtuzumab-order-sign".into(),
            issued_at: Utc::now(),
            patient_id: Some("p-1".into()),
            profile: Some("ansm-2019".into()),
        }
    }

    fn fb(card: Option<IssuedCard>, uuid: &str, reason: Option<&str>) -> FeedbackRow {
        FeedbackRow {
            record: FeedbackRecord {
                id: "f".into(),
                received_at: Utc::now(),
                service: "alemtuzumab-order-sign".into(),
                issuer: None,
                feedback: Feedback {
                    card: uuid.into(),
                    outcome: if reason.is_some() {
                        FeedbackOutcome::Overridden
                    } else {
                        FeedbackOutcome::Accepted
                    },
                    accepted_suggestions: if reason.is_some() {
                        vec![]
                    } else {
                        vec!["s1".into()]
                    },
                    reason: reason.map(|c| ReasonCode {
                        system: None,
                        code: c.into(),
                        display: None,
                    }),
                    user_comment: Some("vu en RCP, \"ok\"".into()),
                    outcome_timestamp: Utc::now(),
                },
                flags: if card.is_none() {
                    vec![FeedbackFlag::UnknownCard]
                } else {
                    vec![]
                },
            },
            card,
        }
    }

    /// Issue 16: the stored indicator is read as an [`Indicator`]; text that is none is counted
    /// apart and said in every format, never counted as critical nor as nothing.
    #[test]
    fn an_unrecognised_stored_indicator_is_counted_apart_and_said() {
        for known in [Indicator::Info, Indicator::Warning, Indicator::Critical] {
            assert_eq!(
                StoredIndicator::parse(known.as_str()),
                StoredIndicator::Known(known)
            );
        }
        let topic = "initiation-eligibility";
        let odd = card("odd", topic, "CRITICAL");
        let crit = card("crit", topic, "critical");
        let warn = card("warn", "liver-function", "warning");
        let feedback = vec![fb(Some(odd.clone()), "odd", Some("other"))];
        let r = build(
            &[odd, crit, warn],
            &feedback,
            None,
            None,
            &CardSettings::default(),
        );
        let init = r.rules.iter().find(|x| x.rule == topic).unwrap();
        assert_eq!(init.cards_shown, 2);
        assert_eq!(init.critical_cards, 1);
        assert_eq!(init.unrecognised_indicators, 1);
        assert_eq!(init.overrides, 1);
        assert_eq!(init.critical_overrides, 0);
        assert_eq!(
            init.override_decisions[0].indicator,
            Some(StoredIndicator::Unrecognised("CRITICAL".into()))
        );
        let liver = r.rules.iter().find(|x| x.rule == "liver-function").unwrap();
        assert_eq!(
            (liver.critical_cards, liver.unrecognised_indicators),
            (0, 0)
        );

        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        let rules = json["rules"].as_array().unwrap();
        let j_init = rules.iter().find(|x| x["rule"] == topic).unwrap();
        assert_eq!(j_init["unrecognisedIndicators"], 1);
        // The stored text is reported as it was stored.
        assert_eq!(j_init["overrideDecisions"][0]["indicator"], "CRITICAL");
        let j_liver = rules
            .iter()
            .find(|x| x["rule"] == "liver-function")
            .unwrap();
        assert!(j_liver.get("unrecognisedIndicators").is_none(), "{j_liver}");

        let csv = render(&r, Format::Csv);
        assert!(
            csv.contains(&format!("unrecognised-indicator,{topic},,,,,,,,,,1,")),
            "{csv}"
        );
        assert_eq!(csv.matches("unrecognised-indicator,").count(), 1, "{csv}");
        let table = render(&r, Format::Table);
        assert!(
            table.contains(&format!(
                "{topic}: 1 card(s) stored with an unrecognised indicator"
            )),
            "{table}"
        );
    }

    #[test]
    fn counts_per_rule_with_overrides_linked_to_their_decision() {
        let c1 = card("c1", "initiation-eligibility", "critical");
        let c2 = card("c2", "initiation-eligibility", "critical");
        let c3 = card("c3", "patient-counselling", "info");
        let feedback = vec![
            fb(Some(c1.clone()), "c1", Some("committee-approved")),
            fb(Some(c2.clone()), "c2", Some("committee-approved")),
            fb(Some(c3.clone()), "c3", None),
            fb(None, "zz", Some("other")),
        ];
        let r = build(
            &[c1, c2, c3],
            &feedback,
            None,
            None,
            &CardSettings::default(),
        );
        let init = &r.rules[0];
        assert_eq!(init.rule, "initiation-eligibility");
        assert_eq!(
            (init.cards_shown, init.critical_cards, init.overrides),
            (2, 2, 2)
        );
        assert_eq!(init.overrides_by_reason[0].count, 2);
        assert_eq!(
            init.override_decisions[0].hook_instance.as_deref(),
            Some("hi-1")
        );
        assert_eq!(
            init.override_decisions[0].order_id.as_deref(),
            Some("MedicationRequest/mr-1")
        );
        let counselling = r
            .rules
            .iter()
            .find(|x| x.rule == "patient-counselling")
            .unwrap();
        assert_eq!(
            (counselling.accepted, counselling.accepted_suggestions),
            (1, 1)
        );
        let unknown = r.rules.iter().find(|x| x.rule == UNKNOWN_CARD).unwrap();
        assert_eq!(unknown.override_decisions[0].flags, ["unknown-card"]);

        let csv = render(&r, Format::Csv);
        assert!(csv.starts_with("record,rule,"), "{csv}");
        assert!(csv.contains("\"vu en RCP, \"\"ok\"\"\""), "{csv}");
        assert_eq!(
            csv.lines().filter(|l| l.starts_with("override,")).count(),
            3
        );
        let table = render(&r, Format::Table);
        assert!(table.contains("committee-approved"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json["rules"][0]["overrides"], 2);
    }

    fn reason(system: Option<&str>, code: &str, display: Option<&str>) -> ReasonCode {
        ReasonCode {
            system: system.map(str::to_owned),
            code: code.into(),
            display: display.map(str::to_owned),
        }
    }

    /// Issue 12 item 5: order-select re-sends count once per draft order (patient and order),
    /// beside the raw count; reasons are named as the prescriber read them.
    #[test]
    fn distinct_orders_and_reasons_as_the_prescriber_read_them() {
        let topic = "initiation-eligibility";
        let mut cards = Vec::new();
        // The Sandbox re-sends order-select on every edit of one draft: three calls, one order.
        for i in 0..3 {
            let mut c = card(&format!("sel-{i}"), topic, "critical");
            c.service = "alemtuzumab-order-select".into();
            c.hook_instance = format!("hi-sel-{i}");
            c.card.order_ref = Some("MedicationRequest/request-123".into());
            cards.push(c);
        }
        // Then order-sign of that draft: the same order.
        let mut signed = card("sign", topic, "critical");
        signed.card.order_ref = Some("MedicationRequest/request-123".into());
        cards.push(signed);
        // Another patient's draft, which the Sandbox gives the same id.
        let mut other = card("other", topic, "critical");
        other.patient_id = Some("p-2".into());
        other.card.order_ref = Some("MedicationRequest/request-123".into());
        cards.push(other);
        // A patient-view card is about no draft order.
        let mut view = card("view", "liver-function", "warning");
        view.card.order_ref = None;
        cards.push(view);
        // The card offered a hospital reason with its display.
        cards[0].card.override_reasons = vec![reason(
            Some("https://hospital.example/reasons"),
            "rcp",
            Some("Avis de la RCP"),
        )];

        let ours = OverrideReason::AllOtherDmtsContraindicated;
        let mut feedback = vec![
            // Our code, no display sent (as many EHRs send it).
            fb(Some(cards[0].clone()), "sel-0", Some(ours.code())),
            // Our code with our system and a display the EHR made up.
            fb(Some(cards[1].clone()), "sel-1", Some(ours.code())),
            // A reason offered on the card with its display, sent without it.
            fb(Some(cards[0].clone()), "sel-0", Some("rcp")),
            // A reason the card never offered: the EHR's display.
            fb(Some(cards[2].clone()), "sel-2", Some("not-relevant")),
        ];
        feedback[1].record.feedback.reason = Some(reason(
            Some(DEFAULT_OVERRIDE_REASON_SYSTEM),
            ours.code(),
            Some("whatever the EHR shows"),
        ));
        feedback[2].record.feedback.reason = Some(reason(
            Some("https://hospital.example/reasons"),
            "rcp",
            None,
        ));
        feedback[3].record.feedback.reason = Some(reason(
            Some("http://example.org/reasons"),
            "not-relevant",
            Some("Not relevant"),
        ));

        for language in [Language::Fr, Language::En] {
            let settings = CardSettings {
                language,
                ..CardSettings::default()
            };
            let r = build(&cards, &feedback, None, None, &settings);
            let init = r.rules.iter().find(|x| x.rule == topic).unwrap();
            assert_eq!((init.cards_shown, init.distinct_orders), (5, 2));
            let liver = r.rules.iter().find(|x| x.rule == "liver-function").unwrap();
            assert_eq!((liver.cards_shown, liver.distinct_orders), (1, 0));

            let spoken = ours.display(language);
            let by_code = |code: &str| {
                init.overrides_by_reason
                    .iter()
                    .find(|x| x.code == code)
                    .unwrap_or_else(|| panic!("{code}: {init:?}"))
            };
            // Both sendings of our code are one reason (system absent or ours), named in the
            // configured language.
            let c = &init.overrides_by_reason[0];
            assert_eq!((c.code.as_str(), c.count), (ours.code(), 2));
            assert_eq!(c.system.as_deref(), Some(DEFAULT_OVERRIDE_REASON_SYSTEM));
            assert_eq!(c.display.as_deref(), Some(spoken));
            assert_eq!(by_code("rcp").display.as_deref(), Some("Avis de la RCP"));
            assert_eq!(
                by_code("not-relevant").display.as_deref(),
                Some("Not relevant")
            );
            let d = &init.override_decisions;
            assert_eq!(d[0].reason_display.as_deref(), Some(spoken));
            assert_eq!(d[1].reason_display.as_deref(), Some(spoken));
            assert_eq!(
                d[1].reason.as_ref().and_then(|c| c.display.as_deref()),
                Some("whatever the EHR shows"),
                "what the EHR sent is kept"
            );
            assert_eq!(d[2].reason_display.as_deref(), Some("Avis de la RCP"));

            let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
            assert_eq!(json["rules"][0]["distinctOrders"], 2);
            assert_eq!(
                json["rules"][0]["overrideDecisions"][0]["reasonDisplay"],
                spoken
            );
            let csv = render(&r, Format::Csv);
            assert!(csv.contains(",distinct_orders,"), "{csv}");
            assert!(csv.contains(&format!("rule,{topic},5,2,5,")), "{csv}");
            assert!(csv.contains(spoken), "{csv}");
            let table = render(&r, Format::Table);
            assert!(table.contains("distinct orders"), "{table}");
            assert!(
                table.contains(&format!("{spoken} [{}]", ours.code())),
                "{table}"
            );
        }
    }

    /// Issue 17 item 1: what a prescriber or an EHR writes cannot run in the committee's
    /// spreadsheet (CSV formula injection) nor rewrite its terminal (table format).
    #[test]
    fn hostile_text_is_neutralised_in_csv_and_escaped_in_the_table() {
        let mut c1 = card("=cmd|' /C calc'!A0", "initiation-eligibility", "critical");
        c1.hook_instance = "+hi-evil".into();
        let mut f1 = fb(Some(c1.clone()), "=cmd|' /C calc'!A0", Some("-other"));
        f1.record.feedback.user_comment = Some("=HYPERLINK(\"http://x\",\"y\")".into());
        if let Some(r) = f1.record.feedback.reason.as_mut() {
            r.system = Some("@SUM(1+1)".into());
            r.display = Some("\tdisplay".into());
        }
        let mut f2 = fb(Some(c1.clone()), "=cmd|' /C calc'!A0", Some("\rcode"));
        f2.record.feedback.user_comment = Some("\x1b[31mrouge\x1b[0m\nfake line\u{202e}".into());
        let r = build(&[c1], &[f1, f2], None, None, &CardSettings::default());

        let csv = render(&r, Format::Csv);
        let mut cells = Vec::new();
        // Split on commas outside quotes; a quoted cell may hold newlines.
        let (mut cell, mut quoted) = (String::new(), false);
        for ch in csv.chars() {
            match ch {
                '"' => {
                    quoted = !quoted;
                    cell.push(ch);
                }
                ',' | '\n' if !quoted => cells.push(std::mem::take(&mut cell)),
                _ => cell.push(ch),
            }
        }
        for cell in &cells {
            let value = cell
                .strip_prefix('"')
                .and_then(|c| c.strip_suffix('"'))
                .unwrap_or(cell);
            assert!(
                !value.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "cell {cell:?} would be evaluated: {csv}"
            );
        }
        assert!(csv.contains("'=HYPERLINK("), "{csv}");
        assert!(csv.contains("'+hi-evil"), "{csv}");
        assert!(csv.contains("'@SUM(1+1)"), "{csv}");
        assert!(csv.contains("'-other"), "{csv}");

        let table = render(&r, Format::Table);
        assert!(!table.contains('\x1b'), "{table:?}");
        assert!(!table.contains('\r'), "{table:?}");
        assert!(!table.contains('\t'), "{table:?}");
        assert!(!table.contains('\u{202e}'), "{table:?}");
        assert!(
            !table.lines().any(|l| l.starts_with("fake line")),
            "a comment cannot start a line of its own: {table}"
        );
        assert!(table.contains("rouge"), "{table}");
    }

    /// A decision under `profile` with one critical initiation-eligibility card `uuid`.
    fn decision(profile: &str, uuid: &str) -> crate::store::model::DecisionRecord {
        let mut d = crate::store::model::DecisionRecord::from_call(crate::store::model::CallInfo {
            hook_instance: format!("hi-{uuid}"),
            service: "alemtuzumab-order-sign".into(),
            hook: "order-sign".into(),
            patient_id: Some(format!("p-{uuid}")),
            status: 200,
            profile: profile.into(),
            latency: std::time::Duration::from_millis(1),
        });
        d.cards = vec![CardRecord {
            uuid: uuid.into(),
            topic: "initiation-eligibility".into(),
            indicator: "critical".into(),
            order_ref: Some(format!("MedicationRequest/{uuid}")),
            suggestion_uuids: vec!["s1".into()],
            override_reasons: Vec::new(),
        }];
        d
    }

    /// Issue 15: filtered on a rule profile, the report counts the cards of decisions made
    /// under it and the feedback about those cards, says which profile, and how many feedback
    /// items (about cards with no recorded decision) it left out. Read from a real store.
    #[tokio::test]
    async fn a_report_filtered_on_a_profile_counts_its_decisions_only() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::store::config::RawStore {
            data_dir: dir.path().to_string_lossy().into_owned(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let store = Store::open(&settings).await.unwrap();
        // ansm-2019: three cards, two overridden; ema-2020: one card, accepted.
        let decisions = [
            decision("ansm-2019", "a1"),
            decision("ansm-2019", "a2"),
            decision("ansm-2019", "a3"),
            decision("ema-2020", "e1"),
        ];
        store.write_decisions(&decisions).await.unwrap();
        let feedback = |uuid: &str, reason: Option<&str>| {
            let mut row = fb(None, uuid, reason);
            row.record.id = uuid::Uuid::new_v4().to_string();
            row.record.flags = vec![];
            row.record.issuer = Some("https://ehr.example".into());
            row.record
        };
        let mut unknown = feedback("zz", Some("other"));
        unknown.flags = vec![FeedbackFlag::UnknownCard];
        store
            .insert_feedback(&[
                feedback("a1", Some("committee-approved")),
                feedback("a2", Some("committee-approved")),
                feedback("e1", None),
                unknown,
            ])
            .await
            .unwrap();
        let cards = CardSettings::default();
        let load_for = |profile: Option<Profile>| {
            let (store, cards) = (store.clone(), cards.clone());
            async move {
                let scope = Scope {
                    profile,
                    ..Scope::default()
                };
                load(&store, &scope, &cards).await.unwrap()
            }
        };
        let figures = |r: &Report| {
            let init = r
                .rules
                .iter()
                .find(|x| x.rule == "initiation-eligibility")
                .unwrap();
            let unknown = r
                .rules
                .iter()
                .find(|x| x.rule == UNKNOWN_CARD)
                .map(|x| x.overrides);
            (
                init.cards_shown,
                init.overrides,
                init.accepted,
                unknown,
                r.profile.clone(),
                r.feedback_without_decision,
            )
        };

        let all = load_for(None).await;
        let ansm = load_for(Some(Profile::Ansm2019)).await;
        let ema = load_for(Some(Profile::Ema2020)).await;

        assert_eq!(figures(&all), (4, 2, 1, Some(1), None, None));
        assert_eq!(
            figures(&ansm),
            (3, 2, 0, None, Some("ansm-2019".into()), Some(1))
        );
        assert_eq!(
            figures(&ema),
            (1, 0, 1, None, Some("ema-2020".into()), Some(1))
        );
        // Each override names its decision's profile and its issuer.
        let d = &all.rules[0].override_decisions[0];
        assert_eq!(d.profile.as_deref(), Some("ansm-2019"));
        assert_eq!(d.issuer.as_deref(), Some("https://ehr.example"));

        // Every format states the filter.
        let json: serde_json::Value = serde_json::from_str(&render(&ema, Format::Json)).unwrap();
        assert_eq!(json["profile"], "ema-2020");
        assert_eq!(json["feedbackWithoutDecision"], 1);
        let unfiltered: serde_json::Value =
            serde_json::from_str(&render(&all, Format::Json)).unwrap();
        assert!(unfiltered.get("profile").is_none(), "{unfiltered}");
        let table = render(&ema, Format::Table);
        assert!(
            table.contains("Rule profile: ema-2020 (decisions made under it only; 1 feedback"),
            "{table}"
        );
        assert!(render(&all, Format::Table).contains("Rule profile: all"));
        let csv = render(&ema, Format::Csv);
        assert!(
            csv.lines()
                .any(|l| l.starts_with("rule,initiation-eligibility,1,")
                    && l.ends_with(",ema-2020,")),
            "{csv}"
        );
        assert!(
            csv.lines()
                .any(|l| l.starts_with("left-out,") && l.contains(",1,")),
            "{csv}"
        );
        store.close().await;
    }

    /// Issue 17 item 14: each override shows the JWT issuer of its feedback, in every format,
    /// neutralised in CSV and escaped in the table and the page like any text from outside.
    #[test]
    fn the_issuer_of_each_override_is_shown_in_every_format() {
        let c1 = card("c1", "initiation-eligibility", "critical");
        let c2 = card("c2", "initiation-eligibility", "critical");
        let mut f1 = fb(Some(c1.clone()), "c1", Some("committee-approved"));
        f1.record.issuer = Some("https://ehr-a.example".into());
        let mut f2 = fb(Some(c2.clone()), "c2", Some("committee-approved"));
        f2.record.issuer = Some("=HYPERLINK(\"x\")<b>\x1b[31m".into());
        let r = build(&[c1, c2], &[f1, f2], None, None, &CardSettings::default());

        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        let decisions = &json["rules"][0]["overrideDecisions"];
        assert_eq!(decisions[0]["issuer"], "https://ehr-a.example");
        assert_eq!(decisions[0]["profile"], "ansm-2019");

        let csv = render(&r, Format::Csv);
        assert!(
            csv.lines().next().unwrap().ends_with(",profile,issuer"),
            "{csv}"
        );
        assert!(
            csv.lines()
                .any(|l| l.starts_with("override,")
                    && l.ends_with(",ansm-2019,https://ehr-a.example")),
            "{csv}"
        );
        assert!(csv.contains(",\"'=HYPERLINK(\"\"x\"\")"), "{csv}");

        let table = render(&r, Format::Table);
        assert!(table.contains("issuer https://ehr-a.example"), "{table}");
        assert!(!table.contains('\x1b'), "{table:?}");

        let page = html::page(&r, &html::PageContext::default());
        assert!(page.contains("https://ehr-a.example"), "{page}");
        assert!(
            page.contains("=HYPERLINK(&quot;x&quot;)&lt;b&gt;"),
            "{page}"
        );
        assert!(!page.contains("<b>"), "{page}");
    }

    #[test]
    fn a_profile_is_one_of_the_configured_names() {
        assert_eq!(parse_profile("ema-2020"), Ok(Profile::Ema2020));
        assert_eq!(parse_profile(" ansm-2019 "), Ok(Profile::Ansm2019));
        let e = parse_profile("ema-2021").unwrap_err();
        assert!(
            e.contains("ema-2021") && e.contains("expected ansm-2019 or ema-2020"),
            "{e}"
        );
    }

    #[test]
    fn bounds_are_dates_or_instants_and_until_includes_its_day() {
        let since = parse_bound("2026-11-25", false).unwrap();
        let until = parse_bound("2026-11-25", true).unwrap();
        assert_eq!(rfc3339(since), "2026-11-25T00:00:00.000Z");
        assert_eq!(rfc3339(until), "2026-11-26T00:00:00.000Z");
        assert!(parse_bound("2026-11-25T10:00:00+01:00", false).is_ok());
        assert!(parse_bound("25/11/2026", false).is_err());
    }
}

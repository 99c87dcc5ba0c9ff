//! Every word of the committee's HTML report, one block per language (`rules.language`), as the
//! card texts are in src/cards/text/. Dates are written as each language writes them: French
//! `27 novembre 2026`, `27/11/2026 14:03 UTC`; English `27 November 2026`,
//! `27 Nov 2026 14:03 UTC`.

use chrono::{DateTime, Datelike, Utc};

use crate::cards::Language;

/// The wording of one language.
pub struct ReportTexts {
    pub lang: &'static str,
    pub title: &'static str,
    pub subtitle: &'static str,
    pub period: &'static str,
    /// Between a label and its value: French `Période : …`, English `Period: …`.
    pub colon: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub all_time: &'static str,
    pub profile: &'static str,
    /// The profile filter's value when the report covers every profile.
    pub all_profiles: &'static str,
    /// Before the configured profile, when the report covers every profile.
    pub configured: &'static str,
    /// Filtered on a profile: feedback about cards with no recorded decision is left out; the
    /// count follows.
    pub left_out: &'static str,
    pub issuer: &'static str,
    pub generated: &'static str,
    pub empty: &'static str,
    pub filters: &'static str,
    pub apply: &'static str,
    pub headline: &'static str,
    pub cards_shown: &'static str,
    pub distinct_orders: &'static str,
    pub critical_cards: &'static str,
    pub accepted: &'static str,
    pub accepted_suggestions: &'static str,
    pub overrides: &'static str,
    pub critical_overrides: &'static str,
    pub critical_override_rate: &'static str,
    pub per_rule: &'static str,
    pub rule: &'static str,
    pub monthly: &'static str,
    pub monthly_note: &'static str,
    pub reasons: &'static str,
    pub reasons_none: &'static str,
    pub count: &'static str,
    pub share: &'static str,
    pub rate_title: &'static str,
    pub rate_note: &'static str,
    pub rate_no_critical: &'static str,
    pub decisions: &'static str,
    /// Cards stored with an unrecognised indicator, per rule (`unrecognisedIndicators`).
    pub unrecognised_indicators: &'static str,
    pub decisions_note: &'static str,
    pub decisions_none: &'static str,
    pub date: &'static str,
    pub order: &'static str,
    pub reason: &'static str,
    pub comment: &'static str,
    pub flags: &'static str,
    pub no_reason: &'static str,
    pub unknown_card: &'static str,
    pub flag_unknown_card: &'static str,
    pub flag_reason_not_offered: &'static str,
    pub flag_suggestion_not_offered: &'static str,
    pub flag_card_of_another_service: &'static str,
    pub months: [&'static str; 12],
    pub months_short: [&'static str; 12],
    pub decimal: char,
    /// Between a number and `%`: French writes a (narrow no-break) space, English none.
    pub percent_space: &'static str,
}

pub const FR: ReportTexts = ReportTexts {
    lang: "fr",
    title: "Lemtrada (alémtuzumab) — revue du comité du médicament",
    subtitle: "Aide à la prescription : alertes affichées, alertes passées outre et suggestions acceptées",
    period: "Période",
    colon: "\u{a0}: ",
    from: "du",
    to: "au",
    all_time: "toutes les données conservées",
    profile: "Référentiel",
    all_profiles: "tous les référentiels",
    configured: "en vigueur",
    left_out: "Retours sur des alertes sans décision enregistrée, rattachés à aucun référentiel et donc exclus",
    issuer: "Émetteur (JWT)",
    generated: "Édité le",
    empty: "Aucune décision sur cette période.",
    filters: "Filtres",
    apply: "Afficher",
    headline: "Chiffres clés",
    cards_shown: "Alertes affichées",
    distinct_orders: "Prescriptions distinctes",
    critical_cards: "Alertes critiques",
    accepted: "Retours « accepté »",
    accepted_suggestions: "Suggestions acceptées",
    overrides: "Passées outre",
    critical_overrides: "Alertes critiques passées outre",
    critical_override_rate: "Taux de passage outre des alertes critiques",
    per_rule: "Par règle",
    rule: "Règle",
    monthly: "Par règle et par mois",
    monthly_note: "Alertes par mois d'émission, retours par mois de réception (UTC).",
    reasons: "Motifs de passage outre",
    reasons_none: "Aucune alerte passée outre sur cette période.",
    count: "Nombre",
    share: "Part",
    rate_title: "Taux de passage outre des alertes critiques, par mois",
    rate_note: "Alertes critiques passées outre reçues dans le mois ÷ alertes critiques affichées dans le mois.",
    rate_no_critical: "aucune alerte critique",
    decisions: "Décisions critiques passées outre",
    unrecognised_indicators: "Alertes enregistrées avec un indicateur non reconnu (ni info, ni warning, ni critical)\u{a0}: ni comptées comme critiques, ni exclues ; leurs passages outre figurent avec ceux des alertes critiques",
    decisions_note: "Chaque passage outre d'une alerte critique, et ceux d'alertes inconnues du service ou d'indicateur non reconnu.",
    decisions_none: "Aucune décision critique passée outre sur cette période.",
    date: "Date",
    order: "Prescription",
    reason: "Motif",
    comment: "Commentaire",
    flags: "Signalements",
    no_reason: "(aucun motif)",
    unknown_card: "(alerte inconnue)",
    flag_unknown_card: "alerte inconnue du service",
    flag_reason_not_offered: "motif non proposé par l'alerte",
    flag_suggestion_not_offered: "suggestion non proposée par l'alerte",
    flag_card_of_another_service: "alerte émise par un autre service",
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    months_short: [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ],
    decimal: ',',
    percent_space: "\u{202f}",
};

pub const EN: ReportTexts = ReportTexts {
    lang: "en",
    title: "Lemtrada (alemtuzumab) — drug committee review",
    subtitle: "Decision support: cards shown, cards overridden and suggestions accepted",
    period: "Period",
    colon: ": ",
    from: "from",
    to: "to",
    all_time: "all data kept",
    profile: "Rule set",
    all_profiles: "all rule sets",
    configured: "in force",
    left_out: "Feedback about cards with no recorded decision, which belongs to no rule set and is left out",
    issuer: "Issuer (JWT)",
    generated: "Generated",
    empty: "No decision in this period.",
    filters: "Filters",
    apply: "Show",
    headline: "Headline figures",
    cards_shown: "Cards shown",
    distinct_orders: "Distinct orders",
    critical_cards: "Critical cards",
    accepted: "Accepted feedback",
    accepted_suggestions: "Accepted suggestions",
    overrides: "Overrides",
    critical_overrides: "Critical cards overridden",
    critical_override_rate: "Override rate of critical cards",
    per_rule: "Per rule",
    rule: "Rule",
    monthly: "Per rule and per month",
    monthly_note: "Cards by the month they were shown, feedback by the month it was received (UTC).",
    reasons: "Override reasons",
    reasons_none: "No card was overridden in this period.",
    count: "Count",
    share: "Share",
    rate_title: "Override rate of critical cards, per month",
    rate_note: "Critical cards overridden (feedback received in the month) ÷ critical cards shown in the month.",
    rate_no_critical: "no critical card",
    decisions: "Overridden critical decisions",
    unrecognised_indicators: "Cards stored with an unrecognised indicator (none of info, warning, critical): not counted as critical, not left out; their overrides are listed with those of critical cards",
    decisions_note: "Every override of a critical card, and those of cards this service has no record of or whose stored indicator is unrecognised.",
    decisions_none: "No critical decision was overridden in this period.",
    date: "Date",
    order: "Order",
    reason: "Reason",
    comment: "Comment",
    flags: "Flags",
    no_reason: "(no reason)",
    unknown_card: "(unknown card)",
    flag_unknown_card: "card unknown to this service",
    flag_reason_not_offered: "reason not offered by the card",
    flag_suggestion_not_offered: "suggestion not offered by the card",
    flag_card_of_another_service: "card issued by another service",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    months_short: [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    decimal: '.',
    percent_space: "",
};

/// The wording of `language`.
pub fn for_language(language: Language) -> &'static ReportTexts {
    match language {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

impl ReportTexts {
    fn month_name(&self, month: u32) -> &'static str {
        self.months
            .get((month as usize).wrapping_sub(1))
            .copied()
            .unwrap_or("?")
    }

    /// A day: `27 novembre 2026`, `27 November 2026`.
    pub fn date(&self, t: DateTime<Utc>) -> String {
        format!("{} {} {}", t.day(), self.month_name(t.month()), t.year())
    }

    /// An instant to the minute, UTC: `27/11/2026 14:03 UTC`, `27 Nov 2026 14:03 UTC`.
    pub fn date_time(&self, t: DateTime<Utc>) -> String {
        if self.lang == "fr" {
            t.format("%d/%m/%Y %H:%M UTC").to_string()
        } else {
            let short = self
                .months_short
                .get(t.month0() as usize)
                .copied()
                .unwrap_or("?");
            format!("{} {short} {} {}", t.day(), t.year(), t.format("%H:%M UTC"))
        }
    }

    /// A month key `YYYY-MM` as a chart label: `nov. 2026`, `Nov 2026`.
    pub fn month_label(&self, key: &str) -> String {
        let parsed = key
            .split_once('-')
            .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u32>().ok()?)));
        match parsed {
            Some((y, m)) if (1..=12).contains(&m) => {
                format!("{} {y}", self.months_short[(m - 1) as usize])
            }
            _ => key.to_owned(),
        }
    }

    /// A share `num / den` as a percentage with one decimal: `12,5 %`, `12.5%`.
    pub fn percent(&self, num: u64, den: u64) -> String {
        if den == 0 {
            return "—".to_owned();
        }
        let tenths = (num as f64 * 1000.0 / den as f64).round() as u64;
        format!(
            "{}{}{}{}%",
            tenths / 10,
            self.decimal,
            tenths % 10,
            self.percent_space
        )
    }

    /// The words for a feedback flag (`unknown-card`, …); the flag itself for one not known here.
    pub fn flag(&self, flag: &str) -> String {
        match flag {
            "unknown-card" => self.flag_unknown_card.to_owned(),
            "override-reason-not-offered" => self.flag_reason_not_offered.to_owned(),
            "suggestion-not-offered" => self.flag_suggestion_not_offered.to_owned(),
            "card-of-another-service" => self.flag_card_of_another_service.to_owned(),
            other => other.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers_as_each_language_writes_them() {
        let t = DateTime::parse_from_rfc3339("2026-11-07T14:03:09Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(FR.date(t), "7 novembre 2026");
        assert_eq!(EN.date(t), "7 November 2026");
        assert_eq!(FR.date_time(t), "07/11/2026 14:03 UTC");
        assert_eq!(EN.date_time(t), "7 Nov 2026 14:03 UTC");
        assert_eq!(FR.month_label("2026-02"), "févr. 2026");
        assert_eq!(EN.month_label("2026-02"), "Feb 2026");
        assert_eq!(EN.month_label("bad"), "bad");
        assert_eq!(FR.percent(1, 8), "12,5\u{202f}%");
        assert_eq!(EN.percent(1, 8), "12.5%");
        assert_eq!(EN.percent(1, 0), "—");
        assert_eq!(EN.flag("unknown-card"), "card unknown to this service");
        assert_eq!(
            FR.flag("card-of-another-service"),
            "alerte émise par un autre service"
        );
    }
}

//! The computed asset risk: a 0–10 score from a device's active alerts, its active
//! vulnerabilities and its device value, with every contribution stated in words.
//!
//! The formula (all points in tenths internally, so the parts add up exactly):
//!
//! | part | points |
//! |---|---|
//! | highest CVSS of an active vulnerability | CVSS × 0.4 (a 9.8 gives 3.9; at most 4.0) |
//! | High and Critical vulnerabilities (CVSS ≥ 7.0) | 0.2 each, at most 2.0 (10 of them) |
//! | active alerts (status not Resolved) | High 4.0, Medium 2.0, Low 0.5, Informational or unspecified 0.1 each; at most 7.0 |
//! | device value | the sum so far × 0.8 (Low), × 1.0 (Normal or unknown), × 1.3 (High) |
//! | cap | the score never exceeds 10 |
//!
//! Why this shape: an active High alert means something is happening on the machine now, so
//! one alone weighs as much as the worst vulnerability; vulnerabilities say how exposed it is,
//! by the worst one and by how many serious ones there are; device value says how much its
//! compromise would matter, so it scales the rest instead of adding risk to a clean machine.
//! Every part only grows with its input, so fixing a CVE or resolving an alert never raises
//! the score.

use serde::Serialize;

/// Points per CVSS point of the highest active vulnerability, in tenths (0.4).
const TENTHS_PER_CVSS: f64 = 4.0;
/// Points per High or Critical vulnerability, in tenths (0.2), and their cap (2.0).
const TENTHS_PER_SEVERE_CVE: u64 = 2;
const SEVERE_CVES_CAP: u64 = 20;
/// Points per active alert by severity, in tenths, and their cap (7.0).
const ALERT_TENTHS_HIGH: u64 = 40;
const ALERT_TENTHS_MEDIUM: u64 = 20;
const ALERT_TENTHS_LOW: u64 = 5;
const ALERT_TENTHS_INFORMATIONAL: u64 = 1;
const ALERTS_CAP: u64 = 70;
/// The top of the scale, in tenths.
const MAX_TENTHS: u64 = 100;

/// A device's active alerts (status other than Resolved) by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AlertCounts {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub high: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub medium: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub low: u64,
    /// Informational, UnSpecified and anything unknown.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub informational: u64,
}

impl AlertCounts {
    pub fn total(&self) -> u64 {
        self.high + self.medium + self.low + self.informational
    }

    /// Counts one alert of Defender's `severity`.
    pub fn add(&mut self, severity: &str, count: u64) {
        match severity.to_ascii_lowercase().as_str() {
            "high" => self.high += count,
            "medium" => self.medium += count,
            "low" => self.low += count,
            _ => self.informational += count,
        }
    }
}

/// A device's active vulnerabilities, summed up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilitySummary {
    /// Distinct CVEs.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub active: u64,
    /// CVSS 9.0 and above (or severity Critical when the CVSS is unknown).
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub critical: u64,
    /// CVSS 7.0 to 8.9 (or severity High).
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub high: u64,
    pub max_cvss: Option<f64>,
}

/// What the score is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RiskInput {
    pub alerts: AlertCounts,
    pub vulnerabilities: VulnerabilitySummary,
    /// Defender's device value: Low, Normal, High.
    pub device_value: Option<String>,
}

/// The words a score falls into, for the badge color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// 0.
    None,
    /// Below 3.
    Low,
    /// 3 to below 6.
    Medium,
    /// 6 to below 8.
    High,
    /// 8 and above.
    Critical,
}

impl RiskLevel {
    pub fn key(self) -> &'static str {
        match self {
            RiskLevel::None => "none",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    fn of(tenths: u64) -> RiskLevel {
        match tenths {
            0 => RiskLevel::None,
            1..30 => RiskLevel::Low,
            30..60 => RiskLevel::Medium,
            60..80 => RiskLevel::High,
            _ => RiskLevel::Critical,
        }
    }
}

/// One part of the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RiskFactor {
    HighestCvss,
    SevereVulnerabilities,
    Alerts,
    DeviceValue,
    Cap,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RiskComponent {
    pub factor: RiskFactor,
    /// What this part adds (negative for a Low device value or the cap); the parts add up to
    /// the score.
    pub points: f64,
    /// The part in words: "highest CVSS 9.8 × 0.4 = +3.9".
    pub explanation: String,
}

/// The computed risk with its "why this score".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AssetRisk {
    /// 0.0 to 10.0, one decimal.
    pub score: f64,
    pub level: RiskLevel,
    pub components: Vec<RiskComponent>,
    /// One line: "7.4 (high): vulnerabilities +4.4, alerts +2.0, device value High ×1.3 +1.0".
    pub summary: String,
}

fn points(tenths: i64) -> f64 {
    tenths as f64 / 10.0
}

fn signed(tenths: i64) -> String {
    if tenths < 0 {
        format!("−{:.1}", points(-tenths))
    } else {
        format!("+{:.1}", points(tenths))
    }
}

fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Device value multiplier as (numerator over 10, label).
fn device_value_factor(value: Option<&str>) -> (u64, String) {
    match value.map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("high") => (13, "High".to_owned()),
        Some(v) if v.eq_ignore_ascii_case("low") => (8, "Low".to_owned()),
        Some(v) if v.eq_ignore_ascii_case("normal") => (10, "Normal".to_owned()),
        Some(v) if !v.is_empty() => (10, format!("'{v}' (read as Normal)")),
        _ => (10, "unknown (read as Normal)".to_owned()),
    }
}

/// Computes the score and its breakdown. See the module docs for the formula.
pub fn compute_risk(input: &RiskInput) -> AssetRisk {
    let (cvss_tenths, cvss) = highest_cvss(&input.vulnerabilities);
    let (severe_tenths, severe) = severe_vulnerabilities(&input.vulnerabilities);
    let (alert_tenths, alerts) = active_alerts(&input.alerts);
    let base = cvss_tenths + severe_tenths + alert_tenths;
    let (factor, label) = device_value_factor(input.device_value.as_deref());
    let (scaled, value) = device_value(base, factor, &label);
    let (score, cap) = cap(scaled);
    let summary = summary(
        score,
        scaled,
        cvss_tenths + severe_tenths,
        alert_tenths,
        factor,
        &label,
    );
    let mut components = Vec::with_capacity(5);
    components.extend([cvss, severe, alerts, value]);
    components.extend(cap);
    AssetRisk {
        score: points(score as i64),
        level: RiskLevel::of(score),
        components,
        summary,
    }
}

/// The worst active vulnerability, in tenths and words. Without a CVSS it adds nothing, but
/// the words tell "no vulnerabilities" from "none scored".
fn highest_cvss(vulns: &VulnerabilitySummary) -> (u64, RiskComponent) {
    let cvss = vulns
        .max_cvss
        .filter(|cvss| cvss.is_finite())
        .map(|cvss| cvss.clamp(0.0, 10.0));
    let tenths = cvss.map_or(0, |cvss| (cvss * TENTHS_PER_CVSS).round() as u64);
    let explanation = match cvss {
        Some(cvss) => format!(
            "highest CVSS of an active vulnerability {cvss:.1} × 0.4 = {}",
            signed(tenths as i64)
        ),
        None if vulns.active > 0 => "active vulnerabilities without a CVSS score: +0.0".to_owned(),
        None => "no active vulnerabilities: +0.0".to_owned(),
    };
    let component = RiskComponent {
        factor: RiskFactor::HighestCvss,
        points: points(tenths as i64),
        explanation,
    };
    (tenths, component)
}

/// High and Critical vulnerabilities, in tenths and words. The cap is named only when it cut
/// something off.
fn severe_vulnerabilities(vulns: &VulnerabilitySummary) -> (u64, RiskComponent) {
    let severe = vulns.critical + vulns.high;
    let tenths = (severe.saturating_mul(TENTHS_PER_SEVERE_CVE)).min(SEVERE_CVES_CAP);
    let explanation = if severe == 0 {
        "no High or Critical vulnerabilities: +0.0".to_owned()
    } else {
        format!(
            "{} and {} × 0.2 = {}{}",
            plural(
                vulns.critical,
                "Critical vulnerability",
                "Critical vulnerabilities"
            ),
            plural(vulns.high, "High", "High"),
            signed(tenths as i64),
            if tenths == SEVERE_CVES_CAP && severe * TENTHS_PER_SEVERE_CVE > SEVERE_CVES_CAP {
                " (at most 2.0)"
            } else {
                ""
            }
        )
    };
    let component = RiskComponent {
        factor: RiskFactor::SevereVulnerabilities,
        points: points(tenths as i64),
        explanation,
    };
    (tenths, component)
}

/// Active alerts by severity, in tenths and words.
fn active_alerts(alerts: &AlertCounts) -> (u64, RiskComponent) {
    let sum = alerts
        .high
        .saturating_mul(ALERT_TENTHS_HIGH)
        .saturating_add(alerts.medium.saturating_mul(ALERT_TENTHS_MEDIUM))
        .saturating_add(alerts.low.saturating_mul(ALERT_TENTHS_LOW))
        .saturating_add(
            alerts
                .informational
                .saturating_mul(ALERT_TENTHS_INFORMATIONAL),
        );
    let tenths = sum.min(ALERTS_CAP);
    let explanation = if alerts.total() == 0 {
        "no active alerts: +0.0".to_owned()
    } else {
        format!(
            "active alerts: {} = {}{}",
            alert_terms(alerts),
            signed(tenths as i64),
            if sum > ALERTS_CAP {
                " (at most 7.0)"
            } else {
                ""
            }
        )
    };
    let component = RiskComponent {
        factor: RiskFactor::Alerts,
        points: points(tenths as i64),
        explanation,
    };
    (tenths, component)
}

/// "1 High × 4.0 + 2 Low × 0.5": only the severities present.
fn alert_terms(alerts: &AlertCounts) -> String {
    let mut parts = Vec::new();
    for (count, name, each) in [
        (alerts.high, "High", "4.0"),
        (alerts.medium, "Medium", "2.0"),
        (alerts.low, "Low", "0.5"),
        (alerts.informational, "Informational", "0.1"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {name} × {each}"));
        }
    }
    parts.join(" + ")
}

/// The device value scales `base` (the other parts' tenths) by `factor` tenths. Returns the
/// scaled sum and the component: the difference, so the parts still add up.
fn device_value(base: u64, factor: u64, label: &str) -> (u64, RiskComponent) {
    // Rounded half up, in tenths.
    let scaled = (base * factor + 5) / 10;
    let tenths = scaled as i64 - base as i64;
    let component = RiskComponent {
        factor: RiskFactor::DeviceValue,
        points: points(tenths),
        explanation: format!(
            "device value {label}: {:.1} × {:.1} = {:.1}, {}",
            points(base as i64),
            factor as f64 / 10.0,
            points(scaled as i64),
            signed(tenths)
        ),
    };
    (scaled, component)
}

/// The score within the scale, and the component that takes off what lies above it (none
/// when nothing does).
fn cap(scaled: u64) -> (u64, Option<RiskComponent>) {
    let score = scaled.min(MAX_TENTHS);
    let component = (score < scaled).then(|| RiskComponent {
        factor: RiskFactor::Cap,
        points: points(score as i64 - scaled as i64),
        explanation: format!("capped at 10.0: {}", signed(score as i64 - scaled as i64)),
    });
    (score, component)
}

/// The one line of [`AssetRisk::summary`]: `score` and the sum it was capped from, the
/// vulnerability and alert parts and the device value's factor, all in tenths.
fn summary(
    score: u64,
    scaled: u64,
    vulnerabilities: u64,
    alerts: u64,
    factor: u64,
    label: &str,
) -> String {
    format!(
        "{:.1} ({}): vulnerabilities {}, alerts {}, device value {label} ×{:.1}{}",
        points(score as i64),
        RiskLevel::of(score).key(),
        signed(vulnerabilities as i64),
        signed(alerts as i64),
        factor as f64 / 10.0,
        if score < scaled { ", capped at 10" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(
        max_cvss: Option<f64>,
        severe: (u64, u64),
        alerts: (u64, u64, u64, u64),
        value: Option<&str>,
    ) -> RiskInput {
        RiskInput {
            alerts: AlertCounts {
                high: alerts.0,
                medium: alerts.1,
                low: alerts.2,
                informational: alerts.3,
            },
            vulnerabilities: VulnerabilitySummary {
                active: severe.0 + severe.1 + u64::from(max_cvss.is_some()),
                critical: severe.0,
                high: severe.1,
                max_cvss,
            },
            device_value: value.map(str::to_owned),
        }
    }

    fn sum_in_tenths(risk: &AssetRisk) -> i64 {
        risk.components
            .iter()
            .map(|c| (c.points * 10.0).round() as i64)
            .sum()
    }

    #[test]
    fn a_clean_device_scores_zero_and_says_why() {
        let risk = compute_risk(&RiskInput::default());
        assert_eq!(risk.score, 0.0);
        assert_eq!(risk.level, RiskLevel::None);
        let words: Vec<&str> = risk
            .components
            .iter()
            .map(|c| c.explanation.as_str())
            .collect();
        assert_eq!(
            words,
            [
                "no active vulnerabilities: +0.0",
                "no High or Critical vulnerabilities: +0.0",
                "no active alerts: +0.0",
                "device value unknown (read as Normal): 0.0 × 1.0 = 0.0, +0.0"
            ]
        );
    }

    #[test]
    fn worked_example_from_the_docs() {
        // CVSS 9.8 (3.9) + 1 Critical and 2 High (0.6) + 1 High alert (4.0) = 8.5; High value ×1.3
        // = 11.05 → 11.1, capped at 10.
        let risk = compute_risk(&input(Some(9.8), (1, 2), (1, 0, 0, 0), Some("High")));
        assert_eq!(risk.score, 10.0);
        assert_eq!(risk.level, RiskLevel::Critical);
        let points: Vec<f64> = risk.components.iter().map(|c| c.points).collect();
        assert_eq!(points, [3.9, 0.6, 4.0, 2.6, -1.1]);
        assert_eq!(
            risk.components[0].explanation,
            "highest CVSS of an active vulnerability 9.8 × 0.4 = +3.9"
        );
        assert_eq!(
            risk.components[1].explanation,
            "1 Critical vulnerability and 2 High × 0.2 = +0.6"
        );
        assert_eq!(
            risk.components[2].explanation,
            "active alerts: 1 High × 4.0 = +4.0"
        );
        assert_eq!(
            risk.components[3].explanation,
            "device value High: 8.5 × 1.3 = 11.1, +2.6"
        );
        assert_eq!(risk.components[4].explanation, "capped at 10.0: −1.1");
        assert!(
            risk.summary
                .starts_with("10.0 (critical): vulnerabilities +4.5, alerts +4.0")
        );

        let modest = compute_risk(&input(Some(6.5), (0, 0), (0, 1, 2, 0), Some("Low")));
        // 2.6 + 0 + (2.0 + 1.0) = 5.6; ×0.8 = 4.48 → 4.5
        assert_eq!(modest.score, 4.5);
        assert_eq!(modest.level, RiskLevel::Medium);
        assert_eq!(modest.components[3].points, -1.1);
    }

    #[test]
    fn the_parts_add_up_to_the_score_and_it_stays_within_0_to_10() {
        for cvss in [
            None,
            Some(0.0),
            Some(3.3),
            Some(7.45),
            Some(9.8),
            Some(10.0),
            Some(42.0),
        ] {
            for severe in [(0, 0), (0, 3), (2, 1), (30, 40)] {
                for alerts in [(0, 0, 0, 0), (1, 0, 0, 0), (0, 2, 3, 4), (5, 5, 5, 5)] {
                    for value in [None, Some("Low"), Some("Normal"), Some("High"), Some("odd")] {
                        let risk = compute_risk(&input(cvss, severe, alerts, value));
                        assert_eq!(
                            sum_in_tenths(&risk),
                            (risk.score * 10.0).round() as i64,
                            "{risk:?}"
                        );
                        assert!((0.0..=10.0).contains(&risk.score), "{risk:?}");
                    }
                }
            }
        }
        let worst = compute_risk(&input(
            Some(10.0),
            (1000, 1000),
            (1000, 1000, 1000, 1000),
            Some("High"),
        ));
        assert_eq!(worst.score, 10.0);
        assert!(worst.components.iter().any(|c| c.factor == RiskFactor::Cap));
        assert!(worst.components[1].explanation.ends_with("(at most 2.0)"));
        assert!(worst.components[2].explanation.ends_with("(at most 7.0)"));
    }

    #[test]
    fn the_score_never_falls_when_a_component_grows() {
        let values = [Some("Low"), None, Some("Normal"), Some("High")];
        let cvss_steps = [None, Some(1.0), Some(5.0), Some(7.0), Some(9.0), Some(10.0)];
        let counts = [0u64, 1, 2, 5, 11, 40];
        let score =
            |cvss, severe, alerts, value| compute_risk(&input(cvss, severe, alerts, value)).score;
        for value in values {
            for pair in cvss_steps.windows(2) {
                assert!(
                    score(pair[0], (0, 1), (0, 1, 0, 0), value)
                        <= score(pair[1], (0, 1), (0, 1, 0, 0), value)
                );
            }
            for pair in counts.windows(2) {
                let (less, more) = (pair[0], pair[1]);
                assert!(
                    score(Some(5.0), (less, 0), (0, 0, 0, 0), value)
                        <= score(Some(5.0), (more, 0), (0, 0, 0, 0), value)
                );
                assert!(
                    score(Some(5.0), (0, less), (0, 0, 0, 0), value)
                        <= score(Some(5.0), (0, more), (0, 0, 0, 0), value)
                );
                assert!(
                    score(Some(5.0), (0, 0), (less, 0, 0, 0), value)
                        <= score(Some(5.0), (0, 0), (more, 0, 0, 0), value)
                );
                assert!(
                    score(Some(5.0), (0, 0), (0, less, 0, 0), value)
                        <= score(Some(5.0), (0, 0), (0, more, 0, 0), value)
                );
                assert!(
                    score(Some(5.0), (0, 0), (0, 0, less, 0), value)
                        <= score(Some(5.0), (0, 0), (0, 0, more, 0), value)
                );
                assert!(
                    score(Some(5.0), (0, 0), (0, 0, 0, less), value)
                        <= score(Some(5.0), (0, 0), (0, 0, 0, more), value)
                );
            }
        }
        for pair in values.windows(2) {
            assert!(
                score(Some(7.5), (0, 2), (0, 1, 0, 0), pair[0])
                    <= score(Some(7.5), (0, 2), (0, 1, 0, 0), pair[1])
            );
        }
        // Strictly, where nothing is capped: each component is felt.
        assert!(
            score(Some(5.0), (0, 0), (0, 0, 0, 0), None)
                < score(Some(6.0), (0, 0), (0, 0, 0, 0), None)
        );
        assert!(score(None, (0, 1), (0, 0, 0, 0), None) < score(None, (0, 2), (0, 0, 0, 0), None));
        assert!(score(None, (0, 0), (0, 0, 1, 0), None) < score(None, (0, 0), (0, 0, 2, 0), None));
        assert!(
            score(Some(5.0), (0, 0), (0, 0, 0, 0), Some("Normal"))
                < score(Some(5.0), (0, 0), (0, 0, 0, 0), Some("High"))
        );
        assert!(
            score(Some(5.0), (0, 0), (0, 0, 0, 0), Some("Low"))
                < score(Some(5.0), (0, 0), (0, 0, 0, 0), Some("Normal"))
        );
    }

    #[test]
    fn alert_severities_are_counted_by_name() {
        let mut counts = AlertCounts::default();
        counts.add("High", 2);
        counts.add("medium", 1);
        counts.add("Low", 1);
        counts.add("UnSpecified", 1);
        counts.add("Informational", 1);
        assert_eq!(
            counts,
            AlertCounts {
                high: 2,
                medium: 1,
                low: 1,
                informational: 2
            }
        );
        assert_eq!(counts.total(), 6);
    }
}

//! The JSON report: the run as a machine reads it.
//!
//! The document is [`RunReport`] serialised as it stands, so its field
//! names are the model's, which are the contract (versioned by
//! `schema_version`). Nothing is renamed or computed here: a figure that
//! should appear in the JSON belongs in the model, where the text report
//! sees it too.

use std::io::{self, Write};

use super::model::RunReport;

/// Write the report as pretty JSON followed by a newline.
pub fn render(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::sample_report;

    fn rendered() -> (String, Value) {
        let mut out = Vec::new();
        render(&sample_report(), &mut out).expect("writing to a Vec cannot fail");
        let text = String::from_utf8(out).expect("JSON is UTF-8");
        let value = serde_json::from_str(&text).expect("the output parses as JSON");
        (text, value)
    }

    /// Every field path of the contract, as JSON pointers.
    const CONTRACT_PATHS: &[&str] = &[
        "/schema_version",
        "/dynstress_version",
        "/seed",
        "/config",
        "/outcome/passed",
        "/outcome/exit_code",
        "/outcome/interrupted",
        "/duration_s/submission",
        "/duration_s/drain",
        "/duration_s/total",
        "/operations/submitted",
        "/operations/started",
        "/operations/succeeded",
        "/operations/rejected",
        "/operations/cancelled",
        "/operations/failed_attempts",
        "/operations/retried",
        "/operations/preempted",
        "/operations/in_flight_at_end",
        "/operations/by_priority/LOW/submitted",
        "/operations/by_priority/LOW/succeeded",
        "/operations/by_priority/LOW/rejected",
        "/operations/by_priority/LOW/cancelled",
        "/operations/by_type/version_entity/submitted",
        "/operations/by_type/version_entity/succeeded",
        "/operations/by_type/version_entity/rejected",
        "/operations/by_type/version_entity/cancelled",
        "/operations/by_type/version_entity/failed_attempts",
        "/rates/target_ops_per_s",
        "/rates/achieved_ops_per_s",
        "/rates/settled_ops_per_s",
        "/rates/succeeded_ops_per_s",
        "/rates/rejected_ops_per_s",
        "/rates/completion_rate",
        "/rates/model_completion_rate",
        "/conflicts/detected",
        "/conflicts/resolved",
        "/conflicts/grace_saves",
        "/conflicts/preemptions",
        "/resources/rss_mb_avg",
        "/resources/rss_mb_max",
        "/resources/cpu_user_s",
        "/resources/cpu_sys_s",
        "/integrity/violations",
        "/integrity/checks/0/name",
        "/integrity/checks/0/passed",
        "/integrity/checks/0/detail",
        "/integrity/entities_modified",
        "/integrity/versions_created",
        "/thresholds/0/name",
        "/thresholds/0/limit",
        "/thresholds/0/observed",
        "/thresholds/0/passed",
        "/timeline/0/t_s",
        "/timeline/0/submitted",
        "/timeline/0/settled",
        "/timeline/0/rss_mb",
        "/timeline/0/span_s",
        "/timeline/0/committed",
        "/timeline/0/rejected",
        "/timeline/0/cancelled",
        "/timeline/0/in_flight",
        "/timeline/0/retries",
        "/timeline/0/grace_saves",
        "/timeline/0/preemptions",
        "/timeline/0/execution_p50_us",
        "/timeline/0/execution_p99_us",
        "/timeline/0/end_to_end_p50_us",
        "/timeline/0/end_to_end_p99_us",
        "/timeline/0/target_rate",
        "/conflicts/by_size/0/ops",
        "/conflicts/by_size/0/conflicts",
    ];

    #[test]
    fn has_every_contract_field() {
        let (_, json) = rendered();
        let mut missing: Vec<String> = CONTRACT_PATHS
            .iter()
            .filter(|p| json.pointer(p).is_none())
            .map(|p| p.to_string())
            .collect();
        for kind in ["resolution", "execution", "end_to_end"] {
            for field in ["p50", "p90", "p99", "p999", "max", "mean"] {
                let path = format!("/latency_us/{kind}/{field}");
                if json.pointer(&path).is_none() {
                    missing.push(path);
                }
            }
        }
        assert!(missing.is_empty(), "missing fields: {missing:?}");
    }

    #[test]
    fn values_are_the_report_values() {
        let (_, json) = rendered();
        let report = sample_report();
        assert_eq!(json["schema_version"], crate::report::model::SCHEMA_VERSION);
        // The seed is a string, so no reader rounds it.
        assert_eq!(json["seed"], report.seed.to_string());
        assert_eq!(json["operations"]["submitted"], report.operations.submitted);
        assert_eq!(json["outcome"]["exit_code"], 0);
        assert_eq!(json["config"]["batch"]["max_size"], 8);
        assert_eq!(json["latency_us"]["end_to_end"]["p99"], 1_840);
        assert_eq!(json["rates"]["target_ops_per_s"], 100.0);
    }

    #[test]
    fn capacity_mode_target_rate_is_null() {
        let mut report = sample_report();
        report.rates.target_ops_per_s = None;
        let mut out = Vec::new();
        render(&report, &mut out).expect("writing to a Vec cannot fail");
        let json: Value = serde_json::from_slice(&out).expect("the output parses as JSON");
        assert_eq!(json.pointer("/rates/target_ops_per_s"), Some(&Value::Null));
    }

    #[test]
    fn is_pretty_and_ends_with_a_newline() {
        let (text, _) = rendered();
        assert!(
            text.ends_with("}\n"),
            "{:?}",
            &text[text.len().saturating_sub(10)..]
        );
        assert!(text.starts_with(&format!(
            "{{\n  \"schema_version\": {},",
            crate::report::model::SCHEMA_VERSION
        )));
    }
}

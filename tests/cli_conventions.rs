//! What people expect of a command-line tool: completions, a man page, a
//! version that names its commit, and a JSON Schema for the report that
//! matches both the Rust types and a real report.

use assert_cmd::Command;
use dynstress::report::model::RunReport;
use serde_json::Value;

fn dynstress() -> Command {
    Command::cargo_bin("dynstress").expect("the binary is built")
}

fn stdout_of(args: &[&str]) -> String {
    let out = dynstress().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_cover_every_shell_and_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for word in ["dynstress", "compare", "--baseline", "--max-regression"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = dynstress().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH dynstress"),
        "{page}"
    );
    assert!(page.contains("compare"), "{page}");
    assert!(page.contains("Exit codes"), "{page}");
}

#[test]
fn the_version_names_the_commit() {
    let version = stdout_of(&["--version"]);
    let want = format!("dynstress {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&want), "{version}");
    let commit = version
        .trim_end()
        .strip_prefix(&want)
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_default();
    // A short hash from git, or "unknown" when built outside a checkout.
    let hash = commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit());
    assert!(hash || commit == "unknown", "{version}");
}

const SCHEMA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");

fn generated_schema() -> String {
    let schema = schemars::schema_for!(RunReport);
    serde_json::to_string_pretty(&schema).unwrap() + "\n"
}

/// `docs/report.schema.json` is the schema of the model types. After a
/// change to them, regenerate it with
/// `UPDATE_SCHEMA=1 cargo test --test cli_conventions`.
#[test]
fn the_checked_in_schema_is_generated_from_the_types() {
    let generated = generated_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_FILE, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(SCHEMA_FILE).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/report.schema.json is stale; run UPDATE_SCHEMA=1 cargo test --test cli_conventions"
    );
}

#[test]
fn real_reports_validate_against_the_schema() {
    let schema: Value = serde_json::from_str(&generated_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    for rate in ["100", "max"] {
        let out = dynstress()
            .args(["run", "--duration", "0.3", "--seed", "5", "--quiet"])
            .args(["--rate", rate, "--json", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "--rate {rate}: {errors:#?}");
        // Capacity mode on the default config passes without the
        // fixed-rate completion gate, and every report carries the targets.
        let gates: Vec<&str> = report["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            gates.contains(&"min_completion_rate"),
            rate != "max",
            "{gates:?}"
        );
        assert_eq!(report["targets"]["targets"], 5);
        // The schema is strict enough to catch a wrong type.
        let mut broken = report.clone();
        broken["operations"]["submitted"] = Value::String("many".into());
        assert!(!validator.is_valid(&broken));
    }
}

//! The CI and browser outputs end to end: `--markdown`, `--junit`, `--csv`,
//! the GitHub step summary and `--html`, written by the built binary on
//! short real runs and read back the way their consumers read them.
//!
//! JUnit is parsed as XML, the Markdown as CommonMark tables, the CSV row
//! by row against the JSON timeline of the same run, and the HTML report
//! is opened in headless Chromium, whose rendered DOM must hold every
//! chart. The browser test needs Debian's `chromium`: it is skipped with a
//! message where the browser is missing, except in CI (`CI` set), where a
//! missing browser fails it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn dynstress() -> Command {
    let mut cmd = Command::cargo_bin("dynstress").expect("the binary is built");
    cmd.timeout(RUN_TIMEOUT);
    cmd.env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// `dynstress run` of `seconds` with `extra` flags and a JSON report in
/// `dir`; returns the exit code and the JSON.
fn run(dir: &TempDir, seconds: &str, extra: &[&str]) -> (i32, Value) {
    let json = dir.path().join("report.json");
    let out = dynstress()
        .args(["run", "--duration", seconds, "--seed", "42", "--quiet"])
        .arg("--json")
        .arg(&json)
        .args(extra)
        .output()
        .expect("the binary runs");
    let code = out.status.code().expect("an exit code");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, serde_json::from_str(&text).expect("the JSON parses"))
}

fn path_in(dir: &TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

// --- JUnit -----------------------------------------------------------------

/// A test case as a CI server reads it.
#[derive(Debug, Default)]
struct TestCase {
    suite: String,
    failure: Option<(String, String)>,
}

/// Parse a JUnit document: suite counts must match their cases.
fn parse_junit(xml: &str) -> BTreeMap<String, TestCase> {
    use quick_xml::events::Event;
    use quick_xml::{Reader, XmlVersion};

    let attr = |e: &quick_xml::events::BytesStart, name: &str| -> Option<String> {
        e.try_get_attribute(name)
            .expect("well-formed attributes")
            .map(|a| {
                a.normalized_value(XmlVersion::Implicit1_0)
                    .expect("escaped value")
                    .into_owned()
            })
    };
    let mut reader = Reader::from_str(xml);
    let mut cases = BTreeMap::new();
    let mut suite = String::new();
    let mut suite_counts: Vec<(String, usize, usize)> = Vec::new();
    let mut current: Option<(String, TestCase)> = None;
    let mut in_failure: Option<String> = None;
    let mut body = String::new();
    let mut roots = 0;
    loop {
        match reader
            .read_event()
            .expect("the JUnit file is well-formed XML")
        {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "testsuites" => roots += 1,
            Event::Start(e) if e.name().as_ref() == "testsuite" => {
                suite = attr(&e, "name").expect("a suite name");
                let n = |k| attr(&e, k).and_then(|v| v.parse().ok()).expect(k);
                suite_counts.push((suite.clone(), n("tests"), n("failures")));
            }
            Event::Start(e) if e.name().as_ref() == "testcase" => {
                let name = attr(&e, "name").expect("a case name");
                assert_eq!(attr(&e, "classname").as_deref(), Some(suite.as_str()));
                current = Some((
                    name,
                    TestCase {
                        suite: suite.clone(),
                        failure: None,
                    },
                ));
            }
            Event::Start(e) if e.name().as_ref() == "failure" => {
                in_failure = Some(attr(&e, "message").expect("a failure message"));
                body.clear();
            }
            Event::Text(t) if in_failure.is_some() => body.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_failure.is_some() => {
                body.push_str(&format!("&{};", r.xml10_content()))
            }
            Event::End(e) if e.name().as_ref() == "failure" => {
                let message = in_failure.take().expect("inside a failure");
                let text = quick_xml::escape::unescape(&body).expect("escaped text");
                current.as_mut().expect("inside a case").1.failure =
                    Some((message, text.into_owned()));
            }
            Event::End(e) if e.name().as_ref() == "testcase" => {
                let (name, case) = current.take().expect("inside a case");
                cases.insert(name, case);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(roots, 1, "one <testsuites> root");
    for (suite, tests, failures) in suite_counts {
        let of_suite: Vec<&TestCase> = cases.values().filter(|c| c.suite == suite).collect();
        assert_eq!(of_suite.len(), tests, "{suite}: tests=");
        let failed = of_suite.iter().filter(|c| c.failure.is_some()).count();
        assert_eq!(failed, failures, "{suite}: failures=");
    }
    cases
}

fn names(json: &Value, list: &str, key: &str) -> Vec<String> {
    json[list]
        .as_array()
        .or_else(|| json.pointer(list).and_then(Value::as_array))
        .expect("a list")
        .iter()
        .map(|v| v[key].as_str().expect("a name").to_owned())
        .collect()
}

// --- Markdown --------------------------------------------------------------

/// The tables of a Markdown document, each as rows of cell texts (the
/// header row first).
fn markdown_tables(md: &str) -> Vec<Vec<Vec<String>>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    let mut tables = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cell: Option<String> = None;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => rows.clear(),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t)
                }
            }
            Event::End(TagEnd::TableCell) => {
                let c = cell.take().expect("inside a cell");
                rows.last_mut().expect("inside a row").push(c);
            }
            Event::End(TagEnd::Table) => tables.push(std::mem::take(&mut rows)),
            _ => {}
        }
    }
    tables
}

/// The first fenced code block of a Markdown document.
fn markdown_code(md: &str) -> Option<String> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};

    let mut code: Option<String> = None;
    for event in Parser::new(md) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => code = Some(String::new()),
            Event::Text(t) => {
                if let Some(c) = code.as_mut() {
                    c.push_str(&t)
                }
            }
            Event::End(TagEnd::CodeBlock) => return code,
            _ => {}
        }
    }
    None
}

#[test]
fn markdown_junit_and_csv_of_a_healthy_run_agree_with_its_json() {
    let dir = TempDir::new().unwrap();
    let (md, junit, csv) = (
        path_in(&dir, "summary.md"),
        path_in(&dir, "junit.xml"),
        path_in(&dir, "timeline.csv"),
    );
    let (code, json) = run(
        &dir,
        "2",
        &[
            "--markdown",
            arg(&md),
            "--junit",
            arg(&junit),
            "--csv",
            arg(&csv),
        ],
    );
    assert_eq!(code, 0, "a healthy default run passes");
    let checks = names(&json, "/integrity/checks", "name");
    let thresholds = names(&json, "thresholds", "name");

    // JUnit: a passing case per check and per threshold.
    let cases = parse_junit(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(cases.len(), checks.len() + thresholds.len());
    for name in checks.iter().chain(&thresholds) {
        let case = cases.get(name).unwrap_or_else(|| panic!("no case {name}"));
        assert!(case.failure.is_none(), "{name}: {:?}", case.failure);
    }
    assert_eq!(cases["accounting"].suite, "dynstress.integrity");
    assert_eq!(cases["min_completion_rate"].suite, "dynstress.thresholds");

    // Markdown: the figures, the thresholds and the checks as tables.
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("## ✅ dynstress: PASSED (exit 0)"), "{md}");
    let tables = markdown_tables(&md);
    assert_eq!(tables.len(), 3, "{md}");
    let submitted = &tables[0]
        .iter()
        .find(|r| r[0] == "submitted")
        .expect("a submitted row")[1];
    let total = json["operations"]["submitted"].as_u64().unwrap();
    assert!(
        submitted.starts_with(&format!("{} ops", group(total))),
        "{submitted} vs {total}"
    );
    assert_eq!(tables[1][0], ["", "threshold", "observed", "limit"]);
    let on_page: Vec<&str> = tables[1][1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(on_page, thresholds);
    assert!(tables[1][1..].iter().all(|r| r[0] == "✅"));
    let on_page: Vec<&str> = tables[2][1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(on_page, checks);
    assert_eq!(
        markdown_code(&md).map(|c| c.trim().to_owned()),
        json["rerun"].as_str().map(str::to_owned)
    );

    // CSV: one row per timeline point, every figure the JSON's.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let timeline = json["timeline"].as_array().unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), timeline.len());
    for (row, point) in rows.iter().zip(timeline) {
        assert_eq!(row.len(), header.len(), "{row:?}");
        for (column, field) in header.iter().zip(row) {
            let expected = &point[*column];
            if field.is_empty() {
                assert!(expected.is_null(), "{column}: {expected} written empty");
            } else {
                let value: f64 = field.parse().unwrap_or_else(|_| panic!("{column}={field}"));
                assert_eq!(Some(value), expected.as_f64(), "{column}");
            }
        }
    }
    let submitted: u64 = rows
        .iter()
        .map(|r| r[2].parse::<u64>().expect("submitted is a count"))
        .sum();
    assert_eq!(header[2], "submitted");
    assert_eq!(submitted, total);
}

/// `1502` → `"1,502"`, as the report writes counts.
fn group(n: u64) -> String {
    dynstress::report::format::count(n)
}

#[test]
fn a_failed_check_is_a_junit_failure_carrying_its_first_violations() {
    let dir = TempDir::new().unwrap();
    let (junit, md) = (path_in(&dir, "junit.xml"), path_in(&dir, "summary.md"));
    let (code, json) = run(
        &dir,
        "2",
        &[
            "--inject",
            "wrong-winner",
            "--junit",
            arg(&junit),
            "--markdown",
            arg(&md),
        ],
    );
    assert_eq!(code, 3, "an integrity failure");
    let cases = parse_junit(&std::fs::read_to_string(&junit).unwrap());
    let (message, body) = cases["priority_rule"]
        .failure
        .clone()
        .expect("priority_rule fails");
    let check = json["integrity"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "priority_rule")
        .unwrap();
    let violations = check["violations"].as_u64().unwrap();
    assert!(message.starts_with(&group(violations)), "{message}");
    let first = check["first_violations"][0]["detail"].as_str().unwrap();
    assert!(body.contains(first), "{body}\nshould hold {first}");
    assert!(body.contains("op-"), "{body}");

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("## ❌ dynstress: FAILED (exit 3)"), "{md}");
    let tables = markdown_tables(&md);
    let row = tables[2]
        .iter()
        .find(|r| r[1] == "priority_rule")
        .expect("a row for the check");
    assert_eq!(row[0], "❌");
    assert!(row[2].contains(first), "{row:?}");
}

#[test]
fn the_step_summary_is_appended_unless_turned_off() {
    let dir = TempDir::new().unwrap();
    let summary = path_in(&dir, "step_summary.md");
    std::fs::write(&summary, "# an earlier step\n").unwrap();
    let go = |extra: &[&str]| {
        let out = dynstress()
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(["run", "--duration", "1", "--seed", "42", "--quiet"])
            .args(extra)
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    };
    go(&[]);
    let after = std::fs::read_to_string(&summary).unwrap();
    assert!(
        after.starts_with("# an earlier step\n## ✅ dynstress: PASSED"),
        "{after}"
    );
    assert_eq!(markdown_tables(&after).len(), 3);
    go(&["--no-step-summary"]);
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), after);
}

// --- HTML in a real browser ---------------------------------------------------

/// Chromium (Debian's `chromium`), or a Chrome that takes the same flags
/// (GitHub's Ubuntu runners have `google-chrome`), if one is installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// The value of `attr` on the element with `id` in a serialised DOM.
fn attribute(dom: &str, id: &str, attr: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let start = dom[..at].rfind('<')?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let value = tag.split(&format!("{attr}=\"")).nth(1)?;
    Some(value[..value.find('"')?].to_owned())
}

#[test]
fn the_html_report_renders_every_chart_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
        );
        eprintln!(
            "skipped: chromium is not installed; `apt-get install -y chromium` to run this test"
        );
        return;
    };
    let dir = TempDir::new().unwrap();
    let html = path_in(&dir, "report.html");
    let (code, json) = run(&dir, "2", &["--html", arg(&html)]);
    assert_eq!(code, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    for fetch in [
        "<link",
        " src=",
        "@import",
        "url(",
        "@font-face",
        "https://",
    ] {
        assert!(
            !page.contains(fetch),
            "the page would fetch through {fetch}"
        );
    }

    let profile = TempDir::new().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("chromium starts");
    assert!(out.status.success(), "chromium failed: {out:?}");
    let dom = String::from_utf8(out.stdout).expect("the DOM is UTF-8");

    // The page's own script ran and counted every chart as drawn.
    let charts = [
        "chart-throughput",
        "chart-latency",
        "chart-in-flight-memory",
        "chart-by-priority",
        "chart-conflict-sizes",
    ];
    let counted = |attr| attribute(&dom, "render-check", attr);
    assert_eq!(counted("data-error"), None, "a script error");
    assert_eq!(counted("data-charts"), Some(charts.len().to_string()));
    assert_eq!(counted("data-svgs"), Some(charts.len().to_string()));
    assert!(dom.contains("all 5 charts rendered"));
    for id in charts {
        let at = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id} in the rendered page"));
        let figure = &dom[at..at + dom[at..].find("</figure>").expect("a closed figure")];
        assert!(figure.contains("<svg"), "{id} has no svg");
        // Axis labels and captions are text the browser lays out.
        assert!(figure.matches("<text").count() >= 3, "{id} has no text");
    }
    assert!(dom.contains("run time (s)"));
    for error in ["cannot draw", "NaN", "undefined"] {
        assert!(!dom.contains(error), "the page shows {error:?}");
    }
    // Every check and threshold is on the page, and the replay command.
    for check in names(&json, "/integrity/checks", "name") {
        assert!(dom.contains(&format!("<b>{check}</b>")), "no {check}");
    }
    for t in names(&json, "thresholds", "name") {
        assert!(dom.contains(&format!("<td>{t}</td>")), "no {t}");
    }
    assert!(dom.contains(json["rerun"].as_str().unwrap()));
}

//! The coverage section of the text report: how many cases each rule path
//! was checked on, a path with none marked not exercised, and how late
//! preemptions came against their bound.
//!
//! ```text
//! 🧭 Coverage
//!    ├─ ✅ ties: 56
//!    ├─ ⚠️ budget_exhaustions: not exercised
//!    └─ preemption lateness: p50 45 µs, max 2,509 µs (bound 50,000 µs)
//! ```

use std::io::{self, Write};

use crate::report::format::count;
use crate::report::model::Coverage;

/// Write the coverage section; `emoji` off gives plain ASCII.
pub fn render_coverage(c: &Coverage, emoji: bool, out: &mut dyn Write) -> io::Result<()> {
    let (title, ok, warn, mid, last, us) = if emoji {
        ("🧭 Coverage", "✅", "⚠️ ", "├─", "└─", "µs")
    } else {
        ("Coverage", "[ok]", "[warn]", "|-", "`-", "us")
    };
    writeln!(out, "{title}")?;
    for p in &c.paths {
        if p.exercised {
            writeln!(out, "   {mid} {ok} {}: {}", p.name, count(p.cases))?;
        } else {
            writeln!(out, "   {mid} {warn} {}: not exercised", p.name)?;
        }
    }
    let l = &c.preemption_lateness_us;
    if l.count == 0 {
        writeln!(out, "   {last} preemption lateness: no due preemption")
    } else {
        writeln!(
            out,
            "   {last} preemption lateness: p50 {} {us}, max {} {us} (bound {} {us})",
            count(l.p50),
            count(l.max),
            count(c.preemption_bound_us)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{CoveragePath, LatencySummary};

    fn coverage() -> Coverage {
        Coverage {
            paths: vec![
                CoveragePath {
                    name: "ties".into(),
                    cases: 1234,
                    exercised: true,
                },
                CoveragePath {
                    name: "budget_exhaustions".into(),
                    cases: 0,
                    exercised: false,
                },
            ],
            preemption_lateness_us: LatencySummary {
                p50: 45,
                max: 2509,
                count: 7,
                ..LatencySummary::default()
            },
            preemption_bound_us: 50_000,
        }
    }

    fn render(c: &Coverage, emoji: bool) -> String {
        let mut out = Vec::new();
        render_coverage(c, emoji, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn exercised_paths_are_ok_and_the_others_warn() {
        let text = render(&coverage(), true);
        assert_eq!(
            text,
            "🧭 Coverage\n   ├─ ✅ ties: 1,234\n   ├─ ⚠️  budget_exhaustions: not exercised\n   └─ preemption lateness: p50 45 µs, max 2,509 µs (bound 50,000 µs)\n"
        );
        let ascii = render(&coverage(), false);
        assert!(ascii.is_ascii(), "{ascii}");
        assert!(
            ascii.contains("[warn] budget_exhaustions: not exercised"),
            "{ascii}"
        );
    }

    #[test]
    fn no_due_preemption_says_so() {
        let c = Coverage {
            preemption_lateness_us: LatencySummary::default(),
            ..coverage()
        };
        assert!(render(&c, true).contains("preemption lateness: no due preemption"));
    }
}

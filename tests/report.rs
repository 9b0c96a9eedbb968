//! The HTML report and the PR body from a real scan: the page renders in
//! headless Chromium without console errors or Content-Security-Policy
//! violations, holds every section and every chart (drawn to the report's own
//! numbers), and needs nothing from the network: Chromium runs with every host
//! unresolvable. The PR body names each migration and says how to verify and
//! roll back.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::scenarios;
use support::{pgadvise, text};

/// Chromium, or a loud failure that says how to install it.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("PGADVISE_TEST_CHROMIUM") {
        return PathBuf::from(path);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "\n\nthe HTML report test needs headless Chromium:\n  \
         scripts/setup installs it (Debian/Ubuntu: apt-get install -y chromium chromium-driver)\n  \
         or set PGADVISE_TEST_CHROMIUM=/path/to/chrome\n"
    );
}

/// Runs headless Chromium on `page` with `extra` arguments, offline (no host
/// resolves, no proxy answers); returns (stdout, stderr).
fn headless(page: &Path, profile: &Path, extra: &[&str]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1366,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// Console lines Chromium logged: script errors, refused loads, CSP violations.
fn console_messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Content Security Policy")
        })
        .collect()
}

/// Every chart the report draws, by the id of its figure.
const CHARTS: [&str; 5] = [
    "chart-findings",
    "chart-time-saved",
    "chart-statement-costs",
    "chart-pool-budget",
    "chart-connection-states",
];

/// A bar as the rendered page holds it.
#[derive(Debug)]
struct DrawnBar {
    series: String,
    value: f64,
    width: f64,
    height: f64,
    full: f64,
}

/// The figure `id` of the rendered page, from its opening tag to `</figure>`.
fn figure<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<figure class=\"chart\" id=\"{id}\""))
        .unwrap_or_else(|| panic!("{id} missing from the rendered page"));
    let end = start + dom[start..].find("</figure>").expect("figure closed");
    &dom[start..end]
}

/// The bars of a figure, in order.
fn drawn_bars(figure: &str) -> Vec<DrawnBar> {
    figure
        .split("<rect class=\"bar\"")
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find('>').expect("tag closed")];
            let attr = |name: &str| -> String {
                let key = format!(" {name}=\"");
                let start = tag
                    .find(&key)
                    .unwrap_or_else(|| panic!("no {name} in {tag}"))
                    + key.len();
                tag[start..start + tag[start..].find('"').unwrap()].to_string()
            };
            let number = |name: &str| attr(name).parse::<f64>().unwrap();
            DrawnBar {
                series: attr("data-series"),
                value: number("data-value"),
                width: number("width"),
                height: number("height"),
                full: number("data-full"),
            }
        })
        .collect()
}

/// Each figure names its picture for screen readers and has its numbers in a table.
fn assert_accessible(figure: &str, id: &str) {
    assert!(
        figure.contains(&format!(
            "role=\"img\" aria-labelledby=\"{id}-title {id}-desc\""
        )),
        "{id}: no role/aria-labelledby"
    );
    assert!(
        figure.contains(&format!("<title id=\"{id}-title\">")),
        "{id}"
    );
    assert!(figure.contains(&format!("<desc id=\"{id}-desc\">")), "{id}");
    assert!(figure.contains("<table class=\"chart-data\">"), "{id}");
}

/// `got` within rounding (two decimals in the page) of `want`.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 0.01 + want.abs() * 1e-6
}

#[tokio::test]
async fn html_report_renders_in_chromium_with_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let feed = scenarios::s1_soft_deleted_feed().await;
    // A session left idle in a transaction while pgadvise samples: the
    // connection-states chart must show it.
    let idle = feed.db.client().await;
    idle.batch_execute("BEGIN; SELECT 1").await.unwrap();
    let report = dir.path().join("report.html");
    let pr_body = dir.path().join("pr.md");
    let out = pgadvise()
        .current_dir(dir.path())
        .args([
            "scan",
            "--quiet",
            "--sample-window",
            "1s",
            "--pool",
            "app=2x5",
        ])
        .arg("--report")
        .arg(&report)
        .arg("--pr-body")
        .arg(&pr_body)
        .arg(&feed.db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&report).unwrap();

    // Self-contained: no scripts, stylesheets, images or fonts from elsewhere.
    for external in ["<script", "<link", "<img", "@import", "url(", "src="] {
        assert!(!html.contains(external), "the report references {external}");
    }

    let profile = dir.path().join("chromium-profile");
    let (dom, log) = headless(&report, &profile, &["--dump-dom"]);
    for section in [
        "id=\"summary\"",
        "id=\"indexes\"",
        "id=\"drops\"",
        "id=\"pool\"",
        "id=\"findings\"",
    ] {
        assert!(
            dom.contains(section),
            "{section} missing from the rendered page"
        );
    }
    // The three S1 indexes, with their statements and the verification numbers.
    for index in [
        "messages_conversation_id_created_at_deleted_at_null_idx",
        "messages_user_id_created_at_deleted_at_null_idx",
        "content_user_id_created_at_deleted_at_null_idx",
    ] {
        assert!(dom.contains(index), "{index} missing");
    }
    assert!(
        dom.contains("ORDER BY created_at DESC LIMIT"),
        "statements missing"
    );
    assert!(dom.contains("Connection budget"), "pool verdict missing");
    assert!(dom.contains("missing-index"), "findings missing");
    if feed.db.has_hypopg {
        assert!(dom.contains("Seq Scan on messages"), "plan before missing");
        assert!(dom.contains("(hypothetical)"), "plan after missing");
    }
    let console = console_messages(&log);
    assert!(console.is_empty(), "console messages: {console:?}");

    // Every chart, drawn from the scan's numbers.
    for id in CHARTS {
        if id == "chart-statement-costs" && !feed.db.has_hypopg {
            continue;
        }
        assert_accessible(figure(&dom, id), id);
    }
    let findings = drawn_bars(figure(&dom, "chart-findings"));
    assert_eq!(findings.len(), 4, "{findings:?}");
    assert!(findings.iter().any(|b| b.value >= 1.0), "{findings:?}");
    let pools = drawn_bars(figure(&dom, "chart-pool-budget"));
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert!(
        pools[0].series.starts_with("app (2 × 5 declared)"),
        "{pools:?}"
    );
    assert_eq!(pools[0].value, 10.0);
    let states = drawn_bars(figure(&dom, "chart-connection-states"));
    assert!(
        states
            .iter()
            .any(|b| b.series == "idle in transaction" && b.value >= 1.0 && b.height > 0.0),
        "the session idle in transaction is not drawn: {states:?}"
    );
    drop(idle);

    // A screenshot at laptop width: rendered, not blank.
    let shot = dir.path().join("report.png");
    headless(
        &report,
        &profile,
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "suspiciously small screenshot: {} bytes",
        png.len()
    );

    let body = std::fs::read_to_string(&pr_body).unwrap();
    for needed in [
        "messages_user_id_created_at_deleted_at_null_idx",
        "CREATE INDEX CONCURRENTLY",
        "pgadvise verify migrations-out",
        "### Rollback",
        "DROP INDEX CONCURRENTLY IF EXISTS",
    ] {
        assert!(
            body.contains(needed),
            "{needed} missing from the PR body:\n{body}"
        );
    }
}

/// The README's first command: a throwaway server, the demo workload, the
/// report folder; the server is gone afterwards.
#[test]
fn demo_writes_a_report_of_every_kind_of_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let mut cmd = pgadvise();
    cmd.current_dir(dir.path())
        .args(["demo", "--out-dir"])
        .arg(&out_dir);
    // With a server of the developer's own, the demo runs there instead.
    if let Ok(url) = std::env::var("PGADVISE_TEST_DATABASE_URL") {
        cmd.args(["--database-url", &url]);
    }
    let started = std::time::Instant::now();
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        started.elapsed().as_secs() < 90,
        "the demo took {:?}",
        started.elapsed()
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("report.html"), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let tables: Vec<&str> = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["table"].as_str().unwrap())
        .collect();
    for table in [
        "public.messages",
        "public.content",
        "public.outbox_events",
        "public.processed_messages",
        "public.traffic_events",
    ] {
        assert!(
            tables.contains(&table),
            "no index proposed on {table}: {tables:?}"
        );
    }
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "missing-index",
        "pool-budget-exceeded",
        "idle-in-transaction",
        "duplicate-index",
        "fk-without-index",
        "offset-pagination",
    ] {
        assert!(rules.contains(&rule), "no {rule} finding: {rules:?}");
    }
    // A migration per verified proposal, and one for the duplicate's drop.
    let migrations: Vec<String> = std::fs::read_dir(out_dir.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let verified = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["verified"] == true)
        .count();
    let ups = |verb: &str| {
        migrations
            .iter()
            .filter(|m| {
                m.contains(&format!("_{verb}_")) && !m.contains(".down.") && !m.contains(".verify.")
            })
            .count()
    };
    assert_eq!(ups("add"), verified, "{migrations:?}");
    assert_eq!(
        ups("drop"),
        report["drops"].as_array().unwrap().len(),
        "{migrations:?}"
    );
    assert!(ups("drop") >= 1, "{migrations:?}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("Connection budget"),
        "pool verdict missing from the page"
    );
    // Where each application's time goes, what limits it, and the server's cores.
    for needed in [
        "Where the time goes",
        "Limit:",
        "sessions on CPU server-wide",
    ] {
        assert!(html.contains(needed), "{needed} missing from the page");
    }
    let pr = std::fs::read_to_string(out_dir.join("pull-request.md")).unwrap();
    for needed in [
        "### Connection pools",
        "where the time goes",
        "| `worker` |",
    ] {
        assert!(
            pr.contains(needed),
            "{needed} missing from the PR body:\n{pr}"
        );
    }
    // Each drop has its card, with the DROP and the rollback that recreates it.
    for drop in report["drops"].as_array().unwrap() {
        let index = drop["index"].as_str().unwrap();
        assert!(
            html.contains(&format!("id=\"drop-{index}\"")),
            "no card for the drop of {index}"
        );
    }
    assert!(html.contains("DROP INDEX CONCURRENTLY IF EXISTS"));
    demo_charts_draw_the_reports_numbers(&out_dir.join("report.html"), &report, dir.path());
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.sarif")).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    // Results with a migration point at its file: the indexes' and the drops'.
    let located: Vec<(String, String)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str()?;
            Some((r["ruleId"].as_str()?.to_string(), uri.to_string()))
        })
        .collect();
    // Without hypopg (the version matrix) no proposal is verified, so none
    // gets a migration; the drop still does.
    let mut expect_files = vec![("duplicate-index", "_drop_")];
    if verified > 0 {
        expect_files.push(("missing-index", "_add_"));
    }
    for (rule, verb) in expect_files {
        let (_, uri) = located
            .iter()
            .find(|(r, _)| r == rule)
            .unwrap_or_else(|| panic!("no {rule} result with a file: {located:?}"));
        assert!(uri.contains(verb) && !uri.contains(".down."), "{uri}");
        assert!(dir.path().join(uri).is_file(), "{uri} does not exist");
    }
    let body = std::fs::read_to_string(out_dir.join("pull-request.md")).unwrap();
    assert!(body.contains("### Rollback"));
    // The pull request explains every migration it carries, the drops too.
    assert!(body.contains("### Indexes dropped or rebuilt"), "{body}");
    for drop in report["drops"].as_array().unwrap() {
        let index = drop["index"].as_str().unwrap();
        assert!(
            body.contains(&format!("`{index}`")),
            "{index} missing:\n{body}"
        );
    }
}

/// The demo's page in Chromium, offline: every chart present, no console
/// message, and each chart's bars drawn to the numbers of report.json.
fn demo_charts_draw_the_reports_numbers(page: &Path, report: &serde_json::Value, dir: &Path) {
    let profile = dir.join("chromium-profile");
    let (dom, log) = headless(page, &profile, &["--dump-dom"]);
    let console = console_messages(&log);
    assert!(console.is_empty(), "console messages: {console:?}");
    let verified = report["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["verified"] == true);
    for id in CHARTS {
        if id == "chart-statement-costs" && !verified {
            continue;
        }
        assert_accessible(figure(&dom, id), id);
    }

    // Findings: one bar per severity, as many as report.json has.
    let findings = drawn_bars(figure(&dom, "chart-findings"));
    let largest = findings.iter().map(|b| b.value).fold(0.0, f64::max);
    for (bar, severity) in findings.iter().zip(["critical", "high", "medium", "low"]) {
        let count = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == severity)
            .count() as f64;
        assert_eq!(bar.value, count, "{severity}");
        assert_eq!(bar.full, largest);
        assert!(
            close(bar.width, count / largest * 330.0),
            "{severity}: {bar:?}"
        );
    }

    // Time saved: per index its statements' time and its saving, in
    // report.json's order, both against the same whole.
    let time = drawn_bars(figure(&dom, "chart-time-saved"));
    let indexes = report["indexes"].as_array().unwrap();
    assert_eq!(time.len(), indexes.len() * 2, "{time:?}");
    for (pair, index) in time.chunks(2).zip(indexes) {
        let took = index["workload_time_ms"].as_f64().unwrap();
        let saved = index["estimated_time_saved_ms"].as_f64().unwrap_or(0.0);
        assert!(close(pair[0].value, took), "{pair:?} {index}");
        assert!(close(pair[1].value, saved), "{pair:?} {index}");
        for bar in pair {
            assert_eq!(bar.full, time[0].full, "one whole for every bar");
            assert!(bar.value <= bar.full);
            assert!(close(bar.width, bar.value / bar.full * 330.0), "{bar:?}");
        }
    }

    // Statement costs: before and with the set, as verification planned them.
    if verified {
        let costs = drawn_bars(figure(&dom, "chart-statement-costs"));
        let plans = report["verification"]["plans"].as_array().unwrap();
        assert!(!costs.is_empty());
        for pair in costs.chunks(2) {
            let plan = plans
                .iter()
                .find(|p| close(p["cost_before"].as_f64().unwrap(), pair[0].value))
                .unwrap_or_else(|| panic!("no statement planned at {pair:?}"));
            assert!(close(pair[1].value, plan["cost_after"].as_f64().unwrap()));
            let full = pair[0].value.max(pair[1].value);
            for bar in pair {
                assert!(close(bar.width, bar.value / full * 330.0), "{bar:?}");
            }
        }
    }

    // Pools: the declared totals stacked against the budget.
    let pools = drawn_bars(figure(&dom, "chart-pool-budget"));
    let budget = report["pool"]["budget"].as_f64().unwrap();
    let declared: Vec<f64> = report["pool"]["applications"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["pool_size"].as_f64())
        .collect();
    assert_eq!(pools.iter().map(|b| b.value).collect::<Vec<_>>(), declared);
    let sum: f64 = declared.iter().sum();
    for bar in &pools {
        assert_eq!(bar.full, sum.max(budget));
    }
    assert!(
        figure(&dom, "chart-pool-budget").contains(&format!("data-value=\"{budget}\"")),
        "the budget line is missing"
    );

    // Connection states: something was drawn for the demo's pools.
    let states = drawn_bars(figure(&dom, "chart-connection-states"));
    for state in ["active", "idle", "idle in transaction"] {
        assert!(
            states.iter().any(|b| b.series == state && b.height > 0.0),
            "no {state} sessions drawn: {states:?}"
        );
    }
}

/// The check for console messages sees Content-Security-Policy violations: a
/// copy of a page with a script and a remote image is refused, loudly.
#[test]
fn chromium_reports_what_the_content_security_policy_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let csp = "default-src 'none'; style-src 'unsafe-inline'";
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\
             </head><body><svg role=\"img\"><rect width=\"10\" height=\"10\"/></svg>\
             <script>document.title = 'ran'</script><img src=\"https://example.com/x.png\"></body></html>"
        ),
    )
    .unwrap();
    let (dom, log) = headless(&page, &dir.path().join("profile"), &["--dump-dom"]);
    assert!(!dom.contains("<title>ran</title>"), "the script ran: {dom}");
    let console = console_messages(&log);
    assert!(
        console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "no CSP violation logged: {log}"
    );
    // The report declares the same policy (in the head it shares with the
    // fleet's index page).
    let template = include_str!("../templates/page_head.html");
    assert!(include_str!("../templates/report.html").contains("{% include \"page_head.html\" %}"));
    assert!(
        template.contains(&format!("content=\"{csp}; ")),
        "the report's CSP changed"
    );
}

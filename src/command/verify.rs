//! `pgadvise verify`: after the migrations are deployed, each index valid
//! and ready and each statement planned through it.

use crate::cli::VerifyFormat;
use crate::collect::connect::connect;
use crate::collect::SQL_TAG;
use crate::emit::text;
use crate::error::{exit, RunError};
use crate::pipeline::{connection_spec, stdout, Diagnostics};
use crate::settings::VerifySettings;
use crate::verify::deployed;
use crate::verify::{VerifyError, VerifyOptions, WhatIf};

/// `pgadvise verify`: each migration's index valid and ready, each statement
/// planned through it. Exit 1 when anything fails, as `audit` does on a finding.
pub async fn run(settings: &VerifySettings, diagnostics: &Diagnostics) -> Result<u8, RunError> {
    let plans = deployed::read_plans(&settings.dir)?;
    let spec = connection_spec(&settings.connection, diagnostics)?;
    let client = connect(&spec).await?;
    let version_num: i32 = client
        .query_one(
            &format!("SELECT {SQL_TAG} current_setting('server_version_num')::int"),
            &[],
        )
        .await
        .map_err(|e| VerifyError::Query {
            what: "reading server_version_num".to_string(),
            detail: crate::collect::db_message(&e),
            kind: crate::collect::failure_kind(&e),
        })?
        .get(0);
    let options = VerifyOptions {
        statement_timeout: settings.connection.statement_timeout,
        lock_timeout: settings.connection.lock_timeout,
    };
    let whatif = WhatIf::open_plain(client, version_num, &options).await?;
    let mut checks = Vec::new();
    for plan in &plans {
        checks.push(deployed::check(&whatif, plan).await?);
    }
    if settings.analyze {
        crate::verify::measure::run(&whatif, &plans, &mut checks).await?;
    }
    let _ = whatif.close().await;
    let failed = checks.iter().filter(|c| !c.passed()).count();
    match settings.format {
        VerifyFormat::Json => stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": failed == 0,
                "indexes": checks,
            }))
            .unwrap_or_default()
        ))?,
        VerifyFormat::Text => stdout(&text::verify_section(&checks))?,
    }
    Ok(if failed == 0 {
        exit::SUCCESS
    } else {
        exit::FINDINGS
    })
}

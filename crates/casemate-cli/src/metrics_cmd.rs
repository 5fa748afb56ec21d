//! How `casemate workspace metrics` prints in table mode.

use crate::output::{record, table, time};
use casemate_types::wire::{WorkspaceCounts, WorkspaceMetrics};

fn counts_row(counts: &WorkspaceCounts) -> Vec<String> {
    [
        counts.runs_submitted,
        counts.runs_started,
        counts.runs_completed,
        counts.runs_failed,
        counts.runs_canceled,
        counts.model_registrations_succeeded,
        counts.model_registrations_failed,
        counts.deployments_succeeded,
        counts.deployments_failed,
    ]
    .iter()
    .map(u64::to_string)
    .collect()
}

pub fn print_workspace_metrics(metrics: &WorkspaceMetrics) {
    record(&[
        ("workspace", metrics.workspace.clone()),
        ("since", time(&metrics.since)),
        ("until", time(&metrics.until)),
        ("interval_seconds", metrics.interval_seconds.to_string()),
    ]);
    println!();
    let now: Vec<String> = metrics
        .runs_by_status
        .iter()
        .map(|(status, count)| format!("{status} {count}"))
        .collect();
    println!("runs now: {}", now.join(", "));
    println!();
    let headers = [
        "BUCKET START",
        "SUBMITTED",
        "STARTED",
        "COMPLETED",
        "FAILED",
        "CANCELED",
        "REGISTERED",
        "REG FAILED",
        "DEPLOYED",
        "DEPLOY FAILED",
    ];
    let mut rows: Vec<Vec<String>> = metrics
        .buckets
        .iter()
        .map(|bucket| {
            let mut row = vec![time(&bucket.start)];
            row.extend(counts_row(&bucket.counts));
            row
        })
        .collect();
    let mut total = vec!["total".to_owned()];
    total.extend(counts_row(&metrics.totals));
    rows.push(total);
    table(&headers, &rows);
}

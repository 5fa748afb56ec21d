//! Printing results as aligned tables or as JSON.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

/// One record as `key: value` lines.
pub fn record(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in fields {
        println!("{key:<width$}  {value}");
    }
}

pub fn time(value: &time::OffsetDateTime) -> String {
    value
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| value.to_string())
}

/// Prints `value` as JSON, or through `as_table` in table mode.
pub fn emit<T: Serialize>(
    format: OutputFormat,
    value: &T,
    as_table: impl FnOnce(&T),
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => json(value),
        OutputFormat::Table => {
            as_table(value);
            Ok(())
        }
    }
}

/// Soft-deleted vault items: name, when deleted, when they will be purged.
pub fn deleted_table<'a>(
    items: impl Iterator<Item = (&'a str, &'a time::OffsetDateTime, &'a time::OffsetDateTime)>,
) {
    let rows: Vec<Vec<String>> = items
        .map(|(name, deleted, purge)| vec![name.to_owned(), time(deleted), time(purge)])
        .collect();
    table(&["NAME", "DELETED", "SCHEDULED PURGE"], &rows);
}

//! Plain-text tables for people: columns padded to their widest cell.

use crate::domain::catalogue::CATALOGUE;

pub(crate) fn render_table_rows<const N: usize>(rows: &[[String; N]]) -> Vec<String> {
    let mut widths = [0usize; N];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == N {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
                }
            }
            line
        })
        .collect()
}

/// A plain table with a header row, columns padded to their widest cell.
pub fn render_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut all = vec![header.map(str::to_string)];
    all.extend_from_slice(rows);
    let mut out = String::new();
    for line in render_table_rows(&all) {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The control catalogue as a table (`controls --output table`).
pub fn catalogue_table() -> String {
    let rows: Vec<[String; 6]> = CATALOGUE
        .iter()
        .map(|c| {
            [
                c.id.to_string(),
                c.severity.to_string(),
                c.resource_type
                    .trim_start_matches("AWS::SageMaker::")
                    .to_string(),
                c.schedule.to_string(),
                c.fix.as_str().to_string(),
                c.title.to_string(),
            ]
        })
        .collect();
    render_table(
        &["ID", "SEVERITY", "RESOURCE", "SCHEDULE", "FIX", "TITLE"],
        &rows,
    )
}

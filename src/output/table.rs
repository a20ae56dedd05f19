//! Tables for people: a few columns, every cell on one line, cut with `…` to fit the screen's
//! width. Widths are decided here, not by comfy-table, which would wrap cells mid-token.

use comfy_table::{presets, ContentArrangement, Table};
use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::terminal::Screen;
use super::{cell, field_names};

/// Fewest characters a squeezed column keeps ("ab…"), unless its content is shorter.
const MIN_COLUMN: usize = 3;
/// How wide a field counts when deciding how many fields of an unknown shape fit.
const FALLBACK_COLUMN: usize = 24;

/// Borders and padding: `│ a │ b │` is 3 per column and 1 to close.
fn overhead(columns: usize) -> usize {
    3 * columns + 1
}

/// A list as a table of `columns`; without columns (records that are not objects), one
/// `value` column.
pub fn records(records: &[Value], columns: &[String], screen: &Screen) -> String {
    if columns.is_empty() {
        let rows = records.iter().map(|record| vec![cell(record)]).collect();
        return render(vec!["value".to_string()], rows, screen);
    }
    let rows = records
        .iter()
        .map(|record| {
            columns
                .iter()
                .map(|column| record.get(column).map(cell).unwrap_or_default())
                .collect()
        })
        .collect();
    render(columns.to_vec(), rows, screen)
}

/// One object, a field a line: the whole object, as a get shows it.
pub fn fields(object: &Map<String, Value>, screen: &Screen) -> String {
    let rows = object
        .iter()
        .map(|(key, value)| vec![key.clone(), cell(value)])
        .collect();
    render(vec!["field".to_string(), "value".to_string()], rows, screen)
}

/// The columns a list shows without `--columns`: the resource's `defaults` that the records
/// have. When fewer than two of them are there (a catalog of the user's own shape), the
/// records' other fields follow, in order, as many as fit `width`.
pub fn default_columns(records: &[Value], defaults: &[&str], width: usize) -> Vec<String> {
    let present = field_names(records);
    let mut chosen: Vec<String> = defaults
        .iter()
        .filter(|name| present.iter().any(|p| p == *name))
        .map(|name| name.to_string())
        .collect();
    if chosen.len() >= 2 {
        return chosen;
    }
    let natural = |name: &str| {
        let widest = records
            .iter()
            .filter_map(|record| record.get(name))
            .map(|value| one_line(&cell(value)).width())
            .max()
            .unwrap_or(0);
        widest.max(name.width()).min(FALLBACK_COLUMN)
    };
    let mut used = overhead(chosen.len()) + chosen.iter().map(|name| natural(name)).sum::<usize>();
    for name in present {
        if chosen.contains(&name) {
            continue;
        }
        let more = natural(&name) + 3;
        if !chosen.is_empty() && used + more > width {
            break;
        }
        used += more;
        chosen.push(name);
    }
    chosen
}

fn render(header: Vec<String>, rows: Vec<Vec<String>>, screen: &Screen) -> String {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|text| one_line(text)).collect())
        .collect();
    let natural: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(index, name)| {
            rows.iter()
                .map(|row| row[index].width())
                .chain([name.width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let widths = fit(
        &natural,
        screen.width.saturating_sub(overhead(header.len())),
    );
    let ellipsis = screen.ellipsis();
    let cut_row = |row: &[String]| -> Vec<String> {
        row.iter()
            .zip(&widths)
            .map(|(text, &width)| cut(text, width, ellipsis))
            .collect()
    };
    let mut table = Table::new();
    table
        .load_preset(if screen.ascii {
            presets::ASCII_FULL_CONDENSED
        } else {
            presets::UTF8_FULL_CONDENSED
        })
        // Every cell already fits its width: comfy-table must not wrap or stretch anything.
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(cut_row(&header));
    for row in &rows {
        table.add_row(cut_row(row));
    }
    table.to_string()
}

/// Column widths for content of `natural` widths in `available` characters: all of it when
/// it fits; else narrow columns keep their width and the wide ones share the rest equally
/// (never below `MIN_COLUMN`, so a very narrow screen gets a table wider than itself rather
/// than one-character columns).
pub fn fit(natural: &[usize], available: usize) -> Vec<usize> {
    if natural.iter().sum::<usize>() <= available {
        return natural.to_vec();
    }
    let mut widths = natural.to_vec();
    let mut open: Vec<usize> = (0..natural.len()).collect();
    open.sort_by_key(|&index| natural[index]);
    let mut left = available;
    while let Some(&narrowest) = open.first() {
        let share = left / open.len();
        if natural[narrowest] <= share {
            left -= natural[narrowest];
            open.remove(0);
            continue;
        }
        // What cannot be split evenly goes to the leftmost of the wide columns.
        open.sort_unstable();
        let extra = left % open.len();
        for (rank, &index) in open.iter().enumerate() {
            let share = share + usize::from(rank < extra);
            widths[index] = share.max(MIN_COLUMN.min(natural[index]));
        }
        break;
    }
    widths
}

/// `text` cut to `width` display columns, ending in `ellipsis` when something was cut.
pub fn cut(text: &str, width: usize, ellipsis: &str) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(ellipsis.width());
    let mut kept = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        kept.push(ch);
    }
    if ellipsis.width() <= width {
        kept.push_str(ellipsis);
    }
    kept
}

/// A cell is one line: line breaks and tabs (which would wrap or misalign it) become spaces.
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn screen(width: usize, ascii: bool) -> Screen {
        Screen {
            width,
            ascii,
            ..Screen::default()
        }
    }

    #[test]
    fn fit_keeps_what_fits_and_shares_the_rest() {
        assert_eq!(fit(&[5, 10], 20), [5, 10]);
        // 5 keeps its width; 40 and 30 share the 25 left.
        assert_eq!(fit(&[5, 40, 30], 30), [5, 13, 12]);
        assert_eq!(fit(&[16, 24, 8, 12], 40), [11, 11, 8, 10]);
        // Too narrow for anything: columns keep 3 characters (or less when that is all).
        assert_eq!(fit(&[20, 20, 2], 0), [3, 3, 2]);
    }

    #[test]
    fn cut_counts_display_width_and_marks_the_cut() {
        assert_eq!(cut("abcdef", 6, "…"), "abcdef");
        assert_eq!(cut("abcdefg", 6, "…"), "abcde…");
        assert_eq!(cut("abcdefg", 6, "..."), "abc...");
        // Wide characters take two columns each.
        assert_eq!(cut("日本語テキスト", 7, "…"), "日本語…");
        assert_eq!(cut("abc", 0, "…"), "");
    }

    #[test]
    fn a_table_fits_the_width_and_never_wraps() {
        let long = "evt_".to_string() + &"0123456789".repeat(10);
        let records = [
            json!({"id": long, "note": "a\nb", "n": 1}),
            json!({"id": "short", "n": 22}),
        ];
        let columns = ["id", "note", "n"].map(str::to_string);
        let text = records_table(&records, &columns, &screen(40, false));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "a line a row, none wrapped:\n{text}");
        assert!(lines.iter().all(|l| l.width() <= 40), "{text}");
        assert!(text.contains("evt_0123") && text.contains('…'), "{text}");
        assert!(
            text.contains("a b"),
            "a line break in a cell is a space:\n{text}"
        );
        assert!(text.contains('│'), "{text}");

        let ascii = records_table(&records, &columns, &screen(40, true));
        assert!(ascii.is_ascii(), "{ascii}");
        assert!(ascii.contains("...") && ascii.contains('|'), "{ascii}");
    }

    fn records_table(records: &[Value], columns: &[String], screen: &Screen) -> String {
        super::records(records, columns, screen)
    }

    #[test]
    fn default_columns_are_the_resources_or_the_first_that_fit() {
        let items = [json!({"id": "i1", "sku": "S", "title": "T", "brand": "B", "price": 1})];
        assert_eq!(
            default_columns(&items, &["id", "sku", "title", "price"], 80),
            ["id", "sku", "title", "price"]
        );
        // Defaults the records lack are left out.
        assert_eq!(
            default_columns(&items, &["id", "name", "price"], 80),
            ["id", "price"]
        );
        // A shape of the user's own: fields in order, as many as fit 45 characters.
        let own = [json!({"ean": "4006381333931", "label": "x".repeat(50), "a": 1, "b": 2})];
        assert_eq!(default_columns(&own, &["id", "sku"], 45), ["ean", "label"]);
        assert_eq!(default_columns(&own, &[], 80), ["ean", "label", "a", "b"]);
        assert!(default_columns(&[json!("text")], &["id"], 80).is_empty());
    }

    #[test]
    fn a_single_object_shows_every_field_cut_to_the_width() {
        let object = json!({"id": "cat_1", "fields": ["x".repeat(200)]});
        let text = fields(object.as_object().unwrap(), &screen(50, false));
        assert!(text.lines().all(|l| l.width() <= 50), "{text}");
        assert!(text.contains("fields") && text.contains("cat_1"), "{text}");
    }
}

//! What the vendors' pagings have in common, for `catops api --paginate` and the listing
//! commands: reading a request's paging parameters, setting them for the next page, taking a
//! reply's list, and telling from counts whether more follows. Each vendor module says which
//! of these its documented paging uses.

use serde_json::Value;

/// A request's query as sent: pairs, in order.
pub type Query = Vec<(String, String)>;

/// One reply of a list, as `catops api --paginate` reads it.
#[derive(Debug)]
pub struct RawPage {
    /// The list's elements, as the vendor sent them.
    pub elements: Vec<Value>,
    /// The query of the page after this one; None after the last.
    pub next: Option<Query>,
}

impl RawPage {
    /// A list that is not paginated: all of it is here.
    pub fn whole(elements: Vec<Value>) -> RawPage {
        RawPage {
            elements,
            next: None,
        }
    }
}

/// The value of `key` in `query`, the last one when repeated (as most servers read them).
pub fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A paging parameter that must be a whole number when given.
pub fn number(query: &[(String, String)], key: &str) -> Result<Option<u64>, String> {
    match param(query, key) {
        None => Ok(None),
        Some(raw) => raw
            .parse()
            .map(Some)
            .map_err(|_| format!("the query's {key}={raw} is not a whole number")),
    }
}

/// `query` with each of `set` in place of the parameter of that name (added when absent).
pub fn with_params(query: &[(String, String)], set: &[(&str, String)]) -> Query {
    let mut next: Query = query
        .iter()
        .filter(|(key, _)| !set.iter().any(|(name, _)| name == key))
        .cloned()
        .collect();
    next.extend(set.iter().map(|(k, v)| (k.to_string(), v.clone())));
    next
}

/// Takes the array under the first of `keys` that `reply` has. A reply with none of them is
/// an error naming them: a list that cannot be found is never an empty one.
pub fn take_array(
    reply: &mut Value,
    keys: &[&'static str],
) -> Result<(&'static str, Vec<Value>), String> {
    for key in keys {
        match reply.get_mut(*key).map(Value::take) {
            Some(Value::Array(elements)) => return Ok((key, elements)),
            Some(_) => return Err(format!("`{key}` is not an array")),
            None => {}
        }
    }
    let names: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    Err(format!("missing field {}", names.join(" or ")))
}

/// A count the vendor reports (`total`, `totalPages`...), where it does; null counts as absent.
pub fn count(reply: &Value, key: &str) -> Result<Option<u64>, String> {
    match reply.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` is not a whole number")),
    }
}

/// Whether a list goes on after `got` elements read from `offset`: not after an empty page,
/// not past the total where the vendor reports one, else not after a page shorter than the
/// `limit` asked for. Without a limit or a total, only an empty page ends it.
pub fn more(offset: u64, got: u64, limit: Option<u64>, total: Option<u64>) -> bool {
    if got == 0 {
        return false;
    }
    match (total, limit) {
        (Some(total), _) => offset.saturating_add(got) < total,
        (None, Some(limit)) => got >= limit,
        (None, None) => true,
    }
}

/// A cursor paging's word on the next page: `more` says whether there is one, `cursor` where
/// it starts. More without a cursor is the error `missing`: the list could not go on.
pub fn next_cursor(
    more: bool,
    cursor: Option<String>,
    missing: &str,
) -> Result<Option<String>, String> {
    match (more, cursor.filter(|c| !c.is_empty())) {
        (false, _) => Ok(None),
        (true, Some(cursor)) => Ok(Some(cursor)),
        (true, None) => Err(missing.to_string()),
    }
}

/// Offset paging (`offset` from 0, and `limit`), as rastro and catalogix document it: the
/// next page starts after what this one held.
pub fn next_offset(
    query: &[(String, String)],
    got: usize,
    total: Option<u64>,
) -> Result<Option<Query>, String> {
    let offset = number(query, "offset")?.unwrap_or(0);
    let limit = number(query, "limit")?;
    let got = got as u64;
    Ok(more(offset, got, limit, total)
        .then(|| with_params(query, &[("offset", (offset + got).to_string())])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lists_end_on_an_empty_page_the_total_or_a_short_page() {
        assert!(!more(0, 0, None, None));
        assert!(more(0, 10, None, None), "no count: go on until empty");
        assert!(!more(90, 10, Some(10), Some(100)));
        assert!(more(80, 10, Some(10), Some(100)));
        assert!(!more(0, 7, Some(10), None));
        assert!(more(0, 10, Some(10), None));
    }

    #[test]
    fn the_next_query_replaces_the_paging_parameter_and_keeps_the_rest() {
        let sent = query(&[("limit", "2"), ("offset", "4"), ("q", "x")]);
        let next = next_offset(&sent, 2, None).unwrap().unwrap();
        assert_eq!(next, query(&[("limit", "2"), ("q", "x"), ("offset", "6")]));
        assert_eq!(next_offset(&sent, 1, None).unwrap(), None, "short page");
        let bad = next_offset(&query(&[("offset", "x")]), 1, None).unwrap_err();
        assert!(bad.contains("offset=x"), "{bad}");
    }

    #[test]
    fn a_reply_without_its_list_is_an_error_not_an_empty_list() {
        let mut reply = json!({"items": [1, 2], "total": 2});
        assert_eq!(
            take_array(&mut reply, &["catalogs", "items"]).unwrap(),
            ("items", vec![json!(1), json!(2)])
        );
        let err = take_array(&mut json!({"detail": "x"}), &["catalogs", "items"]).unwrap_err();
        assert_eq!(err, "missing field `catalogs` or `items`");
        assert!(take_array(&mut json!({"items": {}}), &["items"]).is_err());
        assert_eq!(count(&json!({"total": null}), "total"), Ok(None));
        assert!(count(&json!({"total": "3"}), "total").is_err());
        assert_eq!(
            next_cursor(true, Some(String::new()), "no cursor"),
            Err("no cursor".into())
        );
        assert_eq!(next_cursor(false, None, "no cursor"), Ok(None));
    }
}

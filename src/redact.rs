//! Keeps secrets out of everything catops prints: error messages, `-v`/`-vv` logs and echoed
//! bodies. One redactor, so every path follows the same rule (SPEC §7).
//!
//! A token is replaced in each form it can travel in: as typed, JSON-escaped (servers echo
//! `sk\/live` or `a\"b`) and percent-encoded (in a URL). A short token is only replaced where it
//! stands as a word of its own, so that a one-letter token does not turn every matching letter
//! of an error message into `***`; a long one is replaced wherever it appears. Values of query
//! parameters named like secrets (`?api_key=…`) are replaced whatever they hold.

const MASK: &str = "***";

/// Below this many characters a token is only redacted where it is a whole word: a longer
/// random string does not occur by chance inside unrelated text.
const ANYWHERE_FROM_CHARS: usize = 8;

/// Query parameters whose values are secrets wherever they appear in a URL.
const SECRET_PARAMETERS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "password",
    "passcode",
    "secret",
    "signature",
    "sig",
];

#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first so a longer form is replaced before a
    /// shorter one that it contains.
    forms: Vec<String>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            let json = serde_json::Value::String(secret.to_string()).to_string();
            let json = json[1..json.len() - 1].to_string();
            let candidates = [
                secret.to_string(),
                json.replace('/', "\\/"),
                json,
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
                percent_encode_all(secret),
            ];
            for form in candidates {
                if !form.is_empty() && !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        Redactor { forms }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = redact_secret_parameters(text);
        for form in &self.forms {
            if text.contains(form.as_str()) {
                text = if form.chars().count() >= ANYWHERE_FROM_CHARS {
                    text.replace(form.as_str(), MASK)
                } else {
                    replace_whole_words(&text, form)
                };
            }
        }
        text
    }
}

/// `%XX` for every byte that is not unreserved (RFC 3986), as strict encoders write it.
fn percent_encode_all(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len() * 3);
    for byte in secret.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' || byte >= 0x80
}

/// Replaces the occurrences of `needle` that no word character touches on either side.
fn replace_whole_words(text: &str, needle: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, _) in text.match_indices(needle) {
        if start < copied {
            continue;
        }
        let end = start + needle.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(end).copied();
        if before.is_some_and(is_word_byte) || after.is_some_and(is_word_byte) {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// `?api_key=abc&x=1` → `?api_key=***&x=1`, for the parameter names in `SECRET_PARAMETERS`.
fn redact_secret_parameters(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'?' || bytes[index] == b'&' {
            let name_start = index + 1;
            let name_end = name_start
                + bytes[name_start..]
                    .iter()
                    .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                    .count();
            if bytes.get(name_end) == Some(&b'=') {
                let name = &text[name_start..name_end];
                let value_start = name_end + 1;
                let value_end = value_start
                    + bytes[value_start..]
                        .iter()
                        .take_while(|&&b| {
                            !matches!(b, b'&' | b'#' | b'"' | b'\'' | b'<' | b'>')
                                && !b.is_ascii_whitespace()
                        })
                        .count();
                let secret = SECRET_PARAMETERS
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(name));
                if secret && value_end > value_start {
                    out.push_str(&text[copied..value_start]);
                    out.push_str(MASK);
                    copied = value_end;
                }
                index = value_end;
                continue;
            }
        }
        index += 1;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_token_is_replaced_everywhere_in_every_form() {
        let redactor = Redactor::new(["sk_live/AbC+123/xyz="]);
        for text in [
            "Bearer sk_live/AbC+123/xyz=",
            r#"{"echo":"sk_live\/AbC+123\/xyz="}"#,
            r#"{"echo":"sk_live/AbC+123/xyz="}"#,
            "GET /x?t=sk_live%2FAbC%2B123%2Fxyz%3D",
            "prefixsk_live/AbC+123/xyz=suffix",
        ] {
            let shown = redactor.redact(text);
            assert!(!shown.contains("AbC"), "{text} → {shown}");
            assert!(shown.contains(MASK), "{text} → {shown}");
        }
    }

    #[test]
    fn quotes_and_backslashes_are_matched_as_json_escapes() {
        let redactor = Redactor::new([r#"pa"ss\word"#]);
        let echoed = r#"{"detail":"bad token pa\"ss\\word"}"#;
        assert_eq!(redactor.redact(echoed), r#"{"detail":"bad token ***"}"#);
    }

    #[test]
    fn a_short_token_leaves_other_words_alone() {
        let redactor = Redactor::new(["a"]);
        let message = "rastro: GET /public/catalogs/cat_demo: 404 Not Found: catalog not found";
        assert_eq!(redactor.redact(message), message);
        assert_eq!(
            redactor.redact("Authorization: Bearer a"),
            "Authorization: Bearer ***"
        );
        assert_eq!(redactor.redact(r#"{"token":"a"}"#), r#"{"token":"***"}"#);
    }

    #[test]
    fn secret_query_parameters_are_masked_by_name() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.redact("GET https://h/x?limit=5&api_key=abc123&Signature=zz 200 3 ms"),
            "GET https://h/x?limit=5&api_key=***&Signature=*** 200 3 ms"
        );
        assert_eq!(
            redactor.redact("see ?keys=1&monkey=2"),
            "see ?keys=1&monkey=2"
        );
    }

    #[test]
    fn nothing_to_redact_without_secrets() {
        assert_eq!(Redactor::new([""]).redact("plain"), "plain");
    }
}

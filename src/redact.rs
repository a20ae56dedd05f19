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
        let redacted = self.redact_bytes(text.as_bytes());
        // Only whole (valid UTF-8) forms are replaced, by ASCII: the text stays UTF-8.
        String::from_utf8(redacted)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
    }

    /// `redact` on bytes, which need not be UTF-8 (a body streamed to stdout).
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut text = redact_secret_parameters(bytes);
        for form in &self.forms {
            let anywhere = form.chars().count() >= ANYWHERE_FROM_CHARS;
            text = replace(&text, form.as_bytes(), anywhere);
        }
        text
    }

    /// The longest form, for a stream that must not cut one in two.
    fn longest(&self) -> usize {
        self.forms.first().map_or(0, String::len)
    }
}

/// Redacts a body that is written as it arrives: bytes that could be the start of a secret
/// are held back until the next piece shows whether they are.
pub struct StreamRedactor<'a> {
    redactor: &'a Redactor,
    held: Vec<u8>,
}

impl<'a> StreamRedactor<'a> {
    pub fn new(redactor: &'a Redactor) -> Self {
        StreamRedactor {
            redactor,
            held: Vec::new(),
        }
    }

    /// The redacted bytes that can be written now.
    pub fn push(&mut self, piece: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(piece);
        // A form cut by the end of what has arrived would be missed: keep enough back that any
        // occurrence reaching past the cut is whole in the next round, and one byte more, for
        // the whole-word rule and for `&` after a parameter value.
        let keep = self.redactor.longest() + 1;
        let mut cut = self.held.len().saturating_sub(keep);
        if let Some(start) = self.straddling(cut) {
            cut = start;
        }
        let ready: Vec<u8> = self.held.drain(..cut).collect();
        self.redactor.redact_bytes(&ready)
    }

    /// The rest, at the end of the body.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.held);
        self.redactor.redact_bytes(&rest)
    }

    /// The start of a form that runs across `cut`, if one does; and the start of a query
    /// parameter whose value does (the value is cut at its end, which may not be here yet).
    fn straddling(&self, cut: usize) -> Option<usize> {
        let mut earliest: Option<usize> = None;
        for form in &self.redactor.forms {
            let form = form.as_bytes();
            let from = cut.saturating_sub(form.len() - 1);
            for (offset, window) in self.held[from..].windows(form.len()).enumerate() {
                let start = from + offset;
                if start >= cut {
                    break;
                }
                if window == form {
                    earliest = Some(earliest.map_or(start, |e| e.min(start)));
                }
            }
        }
        if let Some(start) = self.held[..cut]
            .iter()
            .rposition(|&b| b == b'?' || b == b'&')
        {
            if parameter_in_progress(&self.held[start + 1..cut]) {
                earliest = Some(earliest.map_or(start, |e| e.min(start)));
            }
        }
        // Holding back is bounded: a value this long is not a parameter worth the memory.
        if earliest.is_some_and(|start| cut - start > MAX_HELD) {
            return None;
        }
        earliest
    }
}

/// How much of a possible `?name=value` a stream holds back at most.
const MAX_HELD: usize = 64 * 1024;

/// Whether `text` (what follows a `?` or `&` up to a cut) may still become a parameter whose
/// value is to be masked: a name being written, or a name, `=` and a value not yet ended.
fn parameter_in_progress(text: &[u8]) -> bool {
    let name = text
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        .count();
    match text.get(name) {
        None => true,
        Some(b'=') => text[name + 1..].iter().all(|&b| {
            !matches!(b, b'&' | b'#' | b'"' | b'\'' | b'<' | b'>') && !b.is_ascii_whitespace()
        }),
        Some(_) => false,
    }
}

/// Replaces `needle` in `text`: everywhere, or only where no word byte touches it.
fn replace(text: &[u8], needle: &[u8], anywhere: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    for start in memchr::memmem::find_iter(text, needle) {
        if start < copied {
            continue;
        }
        let end = start + needle.len();
        if !anywhere {
            let before = start.checked_sub(1).map(|i| text[i]);
            let after = text.get(end).copied();
            if before.is_some_and(is_word_byte) || after.is_some_and(is_word_byte) {
                continue;
            }
        }
        out.extend_from_slice(&text[copied..start]);
        out.extend_from_slice(MASK.as_bytes());
        copied = end;
    }
    out.extend_from_slice(&text[copied..]);
    out
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

/// `?api_key=abc&x=1` → `?api_key=***&x=1`, for the parameter names in `SECRET_PARAMETERS`.
fn redact_secret_parameters(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
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
                let name = &bytes[name_start..name_end];
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
                    .any(|p| p.as_bytes().eq_ignore_ascii_case(name));
                if secret && value_end > value_start {
                    out.extend_from_slice(&bytes[copied..value_start]);
                    out.extend_from_slice(MASK.as_bytes());
                    copied = value_end;
                }
                index = value_end;
                continue;
            }
        }
        index += 1;
    }
    out.extend_from_slice(&bytes[copied..]);
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
    fn a_stream_cut_anywhere_is_redacted_as_a_whole() {
        let redactor = Redactor::new(["sk_live/AbC+123/xyz="]);
        let body = br#"{"echo":"sk_live\/AbC+123\/xyz=","url":"https://h/x?api_key=s3cr3t&n=1","short":"sk_live/AbC+123/xyz="}"#;
        let whole = redactor.redact_bytes(body);
        for piece in [1, 2, 3, 7, 19, 64] {
            let mut stream = StreamRedactor::new(&redactor);
            let mut out = Vec::new();
            for chunk in body.chunks(piece) {
                out.extend(stream.push(chunk));
            }
            out.extend(stream.finish());
            assert_eq!(
                out,
                whole,
                "pieces of {piece}: {}",
                String::from_utf8_lossy(&out)
            );
        }
        assert!(!String::from_utf8_lossy(&whole).contains("AbC"));
        assert!(!String::from_utf8_lossy(&whole).contains("s3cr3t"));
    }

    #[test]
    fn nothing_to_redact_without_secrets() {
        assert_eq!(Redactor::new([""]).redact("plain"), "plain");
    }
}

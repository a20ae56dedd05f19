//! How `catops api` prints: a reply as it came when piped (byte for byte, a line break added
//! at the end if it lacks one), pretty on a terminal, compact with `-o ndjson`, or through
//! `--jq`; and the elements of `--paginate` as one JSON array or as NDJSON. The profile's
//! token is masked in all of it, should the server echo it (SPEC §7).

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::{exit, usage, Failure};
use crate::http::{read_bounded, Reply, MAX_REPLY_BYTES};
use crate::jq::JqFilter;
use crate::output::{write_pretty, Format};
use crate::redact::{Redactor, StreamRedactor};

/// How JSON is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// As the server sent it: stdout is not a terminal, and scripts get the exact bytes.
    AsReceived,
    /// Indented, for a person at a terminal.
    Pretty,
    /// One line per value (`-o ndjson`).
    Compact,
}

impl Style {
    /// `-o ndjson` is compact; otherwise pretty on a terminal and as received elsewhere.
    pub fn of(format: Format) -> anyhow::Result<Style> {
        match format {
            Format::Ndjson => Ok(Style::Compact),
            Format::Csv => usage("catops api prints JSON: -o json or -o ndjson, not csv"),
            Format::Table | Format::Json if std::io::stdout().is_terminal() => Ok(Style::Pretty),
            Format::Table | Format::Json => Ok(Style::AsReceived),
        }
    }
}

/// Prints one reply and returns it when it was read whole, for an error's message.
pub async fn reply(
    jq: Option<&JqFilter>,
    style: Style,
    redactor: &Redactor,
    reply: Reply,
    broke_off: impl Fn(reqwest::Error) -> anyhow::Error,
) -> anyhow::Result<Option<bytes::Bytes>> {
    let mut printer = Printed {
        redacted: StreamRedactor::new(redactor),
        ends_with_newline: true,
    };
    let mut out = std::io::stdout().lock();
    let read = match (jq, reply) {
        (Some(jq), reply) => {
            let whole = match reply {
                Reply::Read(bytes) => bytes,
                Reply::Open(response) => read_whole_for_jq(response).await.map_err(|err| {
                    err.downcast::<reqwest::Error>()
                        .map_or_else(|err| err, &broke_off)
                })?,
            };
            if !whole.is_empty() {
                let json: Value = serde_json::from_slice(&whole).map_err(|err| {
                    Failure::new(
                        exit::FAILURE,
                        format!("--jq: the response is not JSON: {err}"),
                    )
                })?;
                let mut filtered = Vec::new();
                jq.write(&json, &mut filtered)?;
                printer.write(&mut out, &filtered)?;
            }
            Some(whole)
        }
        (None, Reply::Read(bytes)) => {
            printer.write(&mut out, &reformat(style, &bytes))?;
            Some(bytes)
        }
        (None, Reply::Open(mut response)) if style == Style::AsReceived => {
            while let Some(chunk) = response.chunk().await.map_err(&broke_off)? {
                printer.write(&mut out, &chunk)?;
            }
            None
        }
        (None, Reply::Open(response)) => {
            let whole = whole_or_streamed(response, &mut printer, &mut out, &broke_off).await?;
            if let Some(bytes) = &whole {
                printer.write(&mut out, &reformat(style, bytes))?;
            }
            whole
        }
    };
    printer.finish(&mut out)?;
    Ok(read)
}

/// The reply read whole to be reformatted; one too large for that is printed as received
/// instead (None), from its start.
async fn whole_or_streamed(
    mut response: reqwest::Response,
    printer: &mut Printed<'_>,
    out: &mut impl Write,
    broke_off: impl Fn(reqwest::Error) -> anyhow::Error,
) -> anyhow::Result<Option<bytes::Bytes>> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(&broke_off)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            printer.write(out, &body)?;
            printer.write(out, &chunk)?;
            while let Some(chunk) = response.chunk().await.map_err(&broke_off)? {
                printer.write(out, &chunk)?;
            }
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The reply in `style`; a body that is not JSON is left as it is.
fn reformat(style: Style, bytes: &[u8]) -> Cow<'_, [u8]> {
    if style == Style::AsReceived {
        return Cow::Borrowed(bytes);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(json) => Cow::Owned(styled(style, &json, 0).into_bytes()),
        Err(_) => Cow::Borrowed(bytes),
    }
}

/// One value as text in `style`, indented `depth` levels when pretty.
fn styled(style: Style, value: &Value, depth: usize) -> String {
    if style != Style::Pretty {
        return value.to_string();
    }
    let mut text = Vec::new();
    // Writing a JSON value into memory cannot fail.
    let _ = write_pretty(&mut text, value, depth);
    String::from_utf8_lossy(&text).into_owned()
}

/// `--jq` needs the whole reply, so it is bounded like any reply catops parses.
async fn read_whole_for_jq(response: reqwest::Response) -> anyhow::Result<bytes::Bytes> {
    let (bytes, cut) = read_bounded(response, MAX_REPLY_BYTES).await?;
    if cut {
        return Err(Failure::new(
            exit::FAILURE,
            format!(
                "--jq: the reply is over {} MiB; without --jq it streams to stdout",
                MAX_REPLY_BYTES >> 20
            ),
        )
        .into());
    }
    Ok(bytes)
}

/// The body on stdout, redacted as it goes, ending with a line break.
struct Printed<'a> {
    redacted: StreamRedactor<'a>,
    ends_with_newline: bool,
}

impl Printed<'_> {
    fn write(&mut self, out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
        let ready = self.redacted.push(bytes);
        self.emit(out, &ready)
    }

    fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let rest = self.redacted.finish();
        self.emit(out, &rest)?;
        if !self.ends_with_newline {
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    fn emit(&mut self, out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(&last) = bytes.last() {
            self.ends_with_newline = last == b'\n';
        }
        out.write_all(bytes)
    }
}

/// The elements of every page of `--paginate`: one JSON array (compact when piped, pretty on
/// a terminal), one element per line with `-o ndjson`, or all of them given to `--jq` at the
/// end. Each page is flushed as it comes.
pub struct Elements<'a, W: Write> {
    style: Style,
    jq: Option<&'a JqFilter>,
    redactor: &'a Redactor,
    out: W,
    count: u64,
    held: Vec<Value>,
}

impl<'a, W: Write> Elements<'a, W> {
    pub fn new(style: Style, jq: Option<&'a JqFilter>, redactor: &'a Redactor, out: W) -> Self {
        Elements {
            style,
            jq,
            redactor,
            out,
            count: 0,
            held: Vec::new(),
        }
    }

    pub fn push(&mut self, element: Value) -> std::io::Result<()> {
        if self.jq.is_some() {
            self.held.push(element);
            return Ok(());
        }
        let separator: &[u8] = match (self.style, self.count) {
            (Style::Compact, _) => b"",
            (Style::AsReceived, 0) => b"[",
            (Style::AsReceived, _) => b",",
            (Style::Pretty, 0) => b"[\n  ",
            (Style::Pretty, _) => b",\n  ",
        };
        self.out.write_all(separator)?;
        let text = styled(self.style, &element, 1);
        self.out.write_all(self.redactor.redact(&text).as_bytes())?;
        if self.style == Style::Compact {
            self.out.write_all(b"\n")?;
        }
        self.count += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        if let Some(jq) = self.jq {
            let mut filtered = Vec::new();
            jq.write(&Value::Array(std::mem::take(&mut self.held)), &mut filtered)?;
            self.out.write_all(&self.redactor.redact_bytes(&filtered))?;
        } else {
            let end: &[u8] = match (self.style, self.count) {
                (Style::Compact, _) => b"",
                (_, 0) => b"[]\n",
                (Style::AsReceived, _) => b"]\n",
                (Style::Pretty, _) => b"\n]\n",
            };
            self.out.write_all(end)?;
        }
        Ok(self.out.flush()?)
    }

    /// Ends the output of a listing that stopped on an error: an array begun is closed, so
    /// stdout stays valid JSON; `--jq` does not run on part of the list.
    pub fn close_after_error(self) -> anyhow::Result<()> {
        if self.jq.is_some() || self.count == 0 {
            return Ok(());
        }
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn printed(style: Style, elements: &[Value]) -> String {
        let redactor = Redactor::new(["s3cret-token-value"]);
        let mut out = Vec::new();
        let mut list = Elements::new(style, None, &redactor, &mut out);
        for element in elements {
            list.push(element.clone()).unwrap();
        }
        list.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn elements_are_one_array_or_one_line_each_and_tokens_are_masked() {
        let elements = [
            json!({"id": 1, "echo": "s3cret-token-value"}),
            json!({"id": 2}),
        ];
        assert_eq!(
            printed(Style::AsReceived, &elements),
            "[{\"id\":1,\"echo\":\"***\"},{\"id\":2}]\n"
        );
        assert_eq!(
            printed(Style::Compact, &elements),
            "{\"id\":1,\"echo\":\"***\"}\n{\"id\":2}\n"
        );
        let pretty = printed(Style::Pretty, &elements);
        assert!(pretty.starts_with("[\n  {\n    \"id\": 1,"), "{pretty}");
        let parsed: Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(parsed[1], json!({"id": 2}));
        assert_eq!(printed(Style::AsReceived, &[]), "[]\n");
        assert_eq!(printed(Style::Compact, &[]), "");
    }

    #[test]
    fn replies_are_reformatted_only_when_asked_and_only_when_json() {
        let body = br#"{"b":1,"a":[1,2]}"#;
        assert_eq!(&*reformat(Style::AsReceived, body), body);
        assert_eq!(&*reformat(Style::Compact, b"{ \"b\" : 1 }"), b"{\"b\":1}");
        assert_eq!(
            String::from_utf8_lossy(&reformat(Style::Pretty, body)),
            "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}"
        );
        assert_eq!(&*reformat(Style::Pretty, b"not json"), b"not json");
    }
}

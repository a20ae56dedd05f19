//! Chunks: rows serialised to the vendor's item JSON straight into the request body, grouped up
//! to the vendor's item limit and the 5 MiB body limit. A row is written once, into the buffer
//! that is sent; a chunk is one allocation however many rows it holds (one per row cost more
//! in malloc, and in lock traffic when the sender thread freed them, than writing the JSON).

use bytes::Bytes;

/// SPEC §4: "Chunks hold at most the vendor's item limit and at most 5 MiB of JSON body."
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// One row in a chunk: its numbers, and where its item is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowSpan {
    pub row: u64,
    pub line: u64,
    start: u32,
    end: u32,
}

/// sync: what the state records of each row once the vendor accepts it (its key, the hash
/// of its item, the attribute names where they matter), in row order; empty otherwise. The
/// texts share one buffer, so a chunk's marks are two allocations however many rows it has.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    text: String,
    spans: Vec<MarkSpan>,
}

#[derive(Debug, Clone, Copy)]
struct MarkSpan {
    key_end: u32,
    end: u32,
    hash: u64,
    raw: Option<u64>,
    has_fields: bool,
}

/// One row's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark<'a> {
    pub key: &'a str,
    /// The hash of the item in canonical form.
    pub hash: u64,
    /// The hash of the item's bytes as sent, where they were.
    pub raw: Option<u64>,
    pub fields: Option<&'a str>,
}

impl Marks {
    pub fn push(&mut self, mark: Mark) {
        self.text.push_str(mark.key);
        let key_end = self.text.len() as u32;
        self.text.push_str(mark.fields.unwrap_or_default());
        self.spans.push(MarkSpan {
            key_end,
            end: self.text.len() as u32,
            hash: mark.hash,
            raw: mark.raw,
            has_fields: mark.fields.is_some(),
        });
    }

    pub fn get(&self, index: usize) -> Option<Mark<'_>> {
        let span = self.spans.get(index)?;
        let start = index
            .checked_sub(1)
            .map_or(0, |before| self.spans[before].end as usize);
        let key = &self.text[start..span.key_end as usize];
        let fields = &self.text[span.key_end as usize..span.end as usize];
        Some(Mark {
            key,
            hash: span.hash,
            raw: span.raw,
            fields: span.has_fields.then_some(fields),
        })
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Mark<'_>> {
        (0..self.len()).filter_map(|index| self.get(index))
    }

    /// The marks of the rows at `indices`.
    pub fn subset(&self, indices: &[usize]) -> Marks {
        let mut out = Marks::default();
        for mark in indices.iter().filter_map(|&index| self.get(index)) {
            out.push(mark);
        }
        out
    }

    fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }
}

/// A whole request body (envelope prefix, items joined by commas, envelope suffix) and its rows.
#[derive(Debug, Clone)]
pub struct Chunk {
    body: Bytes,
    rows: Vec<RowSpan>,
    marks: Marks,
    prefix_len: usize,
    suffix_len: usize,
    /// Numbered from 1 as the reader fills chunks; the halves of a split keep their number.
    id: u64,
}

impl Chunk {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn rows(&self) -> &[RowSpan] {
        &self.rows
    }

    /// sync: the rows' marks (none when the run is not a sync).
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// The row's item as JSON.
    pub fn item(&self, span: &RowSpan) -> &[u8] {
        &self.body[span.start as usize..span.end as usize]
    }

    /// The request body (a reference count, not a copy).
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }

    /// Splits in two halves, to isolate the rows a vendor refuses. Copies: it is the rare path.
    pub fn split(self) -> (Chunk, Chunk) {
        let half = self.rows.len() / 2;
        let (prefix, suffix) = (
            &self.body[..self.prefix_len],
            &self.body[self.body.len() - self.suffix_len..],
        );
        let part = |range: std::ops::Range<usize>| {
            let mut builder = Builder::with_capacity(prefix, range.len(), 0);
            for index in range {
                let span = &self.rows[index];
                builder.start_item();
                builder.buffer.extend_from_slice(self.item(span));
                builder.commit(span.row, span.line, self.marks.get(index));
            }
            builder.close(suffix, self.id)
        };
        (part(0..half), part(half..self.rows.len()))
    }
}

/// A chunk being filled.
struct Builder {
    buffer: Vec<u8>,
    rows: Vec<RowSpan>,
    marks: Marks,
    prefix_len: usize,
    /// Where the item being written begins, and where the buffer ended before it (its comma);
    /// both the buffer's end when no item is started.
    item_start: usize,
    mark: usize,
}

impl Builder {
    fn with_capacity(prefix: &[u8], rows: usize, bytes: usize) -> Self {
        let mut buffer = Vec::with_capacity(bytes.max(prefix.len()));
        buffer.extend_from_slice(prefix);
        Builder {
            item_start: buffer.len(),
            mark: buffer.len(),
            buffer,
            rows: Vec::with_capacity(rows),
            marks: Marks::default(),
            prefix_len: prefix.len(),
        }
    }

    fn start_item(&mut self) {
        self.mark = self.buffer.len();
        if !self.rows.is_empty() {
            self.buffer.push(b',');
        }
        self.item_start = self.buffer.len();
    }

    fn item(&self) -> &[u8] {
        &self.buffer[self.item_start..]
    }

    fn discard(&mut self) {
        self.buffer.truncate(self.mark);
    }

    fn commit(&mut self, row: u64, line: u64, mark: Option<Mark>) {
        if let Some(mark) = mark {
            self.marks.push(mark);
        }
        self.rows.push(RowSpan {
            row,
            line,
            start: self.item_start as u32,
            end: self.buffer.len() as u32,
        });
        // Nothing is started: a discard now must not reach back into this row.
        self.mark = self.buffer.len();
        self.item_start = self.mark;
    }

    /// A started but neither committed nor discarded item is not part of the chunk.
    fn discard_unfinished(&mut self) {
        let end = self.rows.last().map_or(self.prefix_len, |r| r.end as usize);
        self.buffer.truncate(end);
    }

    fn close(mut self, suffix: &[u8], id: u64) -> Chunk {
        self.buffer.extend_from_slice(suffix);
        Chunk {
            body: Bytes::from(self.buffer),
            rows: self.rows,
            marks: self.marks,
            prefix_len: self.prefix_len,
            suffix_len: suffix.len(),
            id,
        }
    }
}

/// A row that cannot go in any request: its item alone is over the body limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub item_bytes: usize,
    /// The body limit it did not fit.
    pub max_body: usize,
}

/// Groups rows into chunks of at most `max_items` rows and `max_body` bytes of body (the
/// 5 MiB of SPEC §4, or less where the vendor documents less). Each row is written by the
/// caller into `start_item()`'s buffer, then committed or discarded.
pub struct Chunker {
    max_items: usize,
    max_body: usize,
    prefix: Box<[u8]>,
    suffix: Box<[u8]>,
    current: Builder,
    /// The last body's size, so the next buffer is allocated once at about the right size.
    last_body: usize,
    closed: u64,
    /// sync: the mark of the item being written, for `commit_item`.
    pending: Marks,
}

impl Chunker {
    pub fn new(max_items: usize, max_body: usize, prefix: &[u8], suffix: &[u8]) -> Self {
        let max_items = max_items.max(1);
        Chunker {
            max_items,
            max_body: max_body.min(MAX_BODY_BYTES),
            current: Builder::with_capacity(prefix, max_items, 0),
            prefix: prefix.into(),
            suffix: suffix.into(),
            last_body: 0,
            closed: 0,
            pending: Marks::default(),
        }
    }

    /// The buffer to write the next row's item into (after what is already there).
    pub fn start_item(&mut self) -> &mut Vec<u8> {
        self.current.start_item();
        &mut self.current.buffer
    }

    /// The item written since `start_item`.
    pub fn item(&self) -> &[u8] {
        self.current.item()
    }

    /// Drops the item written since `start_item` (a rejected or skipped row).
    pub fn discard_item(&mut self) {
        self.pending.clear();
        self.current.discard();
    }

    /// sync: the mark the item being written is committed with.
    pub fn mark_item(&mut self, mark: Mark) {
        self.pending.clear();
        self.pending.push(mark);
    }

    /// Keeps the item written since `start_item` as row `row`; returns a chunk that is full
    /// and ready to send, if keeping it closed one (the row is in it, or opens the next chunk
    /// when it did not fit).
    pub fn commit_item(&mut self, row: u64, line: u64) -> Result<Option<Chunk>, TooLarge> {
        let item_bytes = self.current.buffer.len() - self.current.item_start;
        let envelope = self.prefix.len() + self.suffix.len();
        if item_bytes + envelope > self.max_body {
            self.discard_item();
            return Err(TooLarge {
                item_bytes,
                max_body: self.max_body,
            });
        }
        if self.current.buffer.len() + self.suffix.len() > self.max_body {
            // The row fits a request but not this one: it opens the next chunk.
            let item = self.current.item().to_vec();
            self.current.discard();
            let full = self.close();
            self.current.start_item();
            self.current.buffer.extend_from_slice(&item);
            self.current.commit(row, line, self.pending.get(0));
            self.pending.clear();
            debug_assert!(self.max_items > 1, "a one-row chunk is closed at once");
            return Ok(Some(full));
        }
        self.current.commit(row, line, self.pending.get(0));
        self.pending.clear();
        Ok((self.current.rows.len() >= self.max_items).then(|| self.close()))
    }

    fn close(&mut self) -> Chunk {
        let next = Builder::with_capacity(
            &self.prefix,
            self.max_items,
            self.last_body + self.last_body / 8,
        );
        self.closed += 1;
        let full = std::mem::replace(&mut self.current, next).close(&self.suffix, self.closed);
        self.last_body = full.body.len();
        full
    }

    /// The last, partly filled chunk.
    pub fn finish(mut self) -> Option<Chunk> {
        self.current.discard_unfinished();
        (!self.current.rows.is_empty()).then(|| self.close())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(chunker: &mut Chunker, n: u64, item: &[u8]) -> Result<Option<Chunk>, TooLarge> {
        chunker.start_item().extend_from_slice(item);
        chunker.commit_item(n, n + 1)
    }

    #[test]
    fn chunks_close_at_the_item_limit() {
        let mut chunker = Chunker::new(3, MAX_BODY_BYTES, b"[", b"]");
        let mut sizes = Vec::new();
        for n in 1..=7 {
            if let Some(chunk) = push(&mut chunker, n, b"12345").unwrap() {
                sizes.push(chunk.len());
            }
        }
        sizes.extend(chunker.finish().map(|c| c.len()));
        assert_eq!(sizes, [3, 3, 1]);
    }

    #[test]
    fn chunks_close_before_the_body_limit() {
        let item = vec![b'x'; MAX_BODY_BYTES / 3];
        let mut chunker = Chunker::new(1000, MAX_BODY_BYTES, &[b'['; 10], &[b']'; 10]);
        let mut chunks = Vec::new();
        for n in 1..=5 {
            chunks.extend(push(&mut chunker, n, &item).unwrap());
        }
        chunks.extend(chunker.finish());
        assert_eq!(chunks.iter().map(Chunk::len).collect::<Vec<_>>(), [2, 2, 1]);
        let rows: Vec<u64> = chunks
            .iter()
            .flat_map(|c| c.rows())
            .map(|r| r.row)
            .collect();
        assert_eq!(rows, [1, 2, 3, 4, 5]);
        for chunk in &chunks {
            assert!(chunk.body().len() <= MAX_BODY_BYTES);
            assert!(chunk.rows().iter().all(|r| chunk.item(r) == &item[..]));
        }
    }

    #[test]
    fn a_vendor_body_limit_closes_chunks_before_its_bytes() {
        // clevertap's products/bulk: 500 KB a body, whatever the item count.
        let limit = 1000;
        let item = vec![b'x'; 300];
        let mut chunker = Chunker::new(100, limit, b"{\"products\":[", b"]}");
        let mut chunks = Vec::new();
        for n in 1..=10 {
            chunks.extend(push(&mut chunker, n, &item).unwrap());
        }
        chunks.extend(chunker.finish());
        assert_eq!(chunks.iter().map(Chunk::len).sum::<usize>(), 10);
        assert!(chunks.iter().all(|c| c.body().len() <= limit));
        assert_eq!(
            chunks[0].len(),
            3,
            "13 + 3 × 300 + 2 commas + 2 = 917 bytes fit, a fourth does not"
        );
        let too_big = push(&mut chunker_with(limit), 1, &vec![b'x'; limit]).unwrap_err();
        assert_eq!(too_big.max_body, limit);
    }

    fn chunker_with(limit: usize) -> Chunker {
        Chunker::new(100, limit, b"[", b"]")
    }

    #[test]
    fn an_item_over_the_body_limit_is_refused_and_leaves_the_chunk_as_it_was() {
        let mut chunker = Chunker::new(10, MAX_BODY_BYTES, b"{\"items\":[", b"]}");
        push(&mut chunker, 1, b"{\"a\":1}").unwrap();
        let huge = vec![b'x'; MAX_BODY_BYTES];
        assert_eq!(
            push(&mut chunker, 2, &huge).unwrap_err(),
            TooLarge {
                item_bytes: MAX_BODY_BYTES,
                max_body: MAX_BODY_BYTES
            }
        );
        // A discard with nothing started (a row rejected before it was written) keeps row 1.
        chunker.discard_item();
        push(&mut chunker, 3, b"{\"a\":3}").unwrap();
        let chunk = chunker.finish().unwrap();
        assert_eq!(&chunk.body()[..], b"{\"items\":[{\"a\":1},{\"a\":3}]}");
    }

    #[test]
    fn bodies_join_items_inside_the_envelope_and_split_in_halves() {
        let mut chunker = Chunker::new(10, MAX_BODY_BYTES, b"{\"items\":[", b"]}");
        for (n, item) in [b"{\"a\":1}", b"{\"a\":2}", b"{\"a\":3}"]
            .iter()
            .enumerate()
        {
            push(&mut chunker, n as u64 + 1, &item[..]).unwrap();
        }
        // A started item that is discarded, or never finished, leaves no trace.
        chunker.start_item().extend_from_slice(b"{\"bad\"");
        chunker.discard_item();
        chunker.start_item().extend_from_slice(b"{\"half");
        let chunk = chunker.finish().unwrap();
        assert_eq!(
            &chunk.body()[..],
            b"{\"items\":[{\"a\":1},{\"a\":2},{\"a\":3}]}"
        );
        let (first, second) = chunk.split();
        assert_eq!(&first.body()[..], b"{\"items\":[{\"a\":1}]}");
        assert_eq!(&second.body()[..], b"{\"items\":[{\"a\":2},{\"a\":3}]}");
        assert_eq!(second.rows()[1].row, 3);
        assert_eq!(second.item(&second.rows()[1]), b"{\"a\":3}");
    }

    #[test]
    fn marks_follow_their_rows_through_a_split() {
        let mut chunker = Chunker::new(10, MAX_BODY_BYTES, b"[", b"]");
        for n in 1..=3u64 {
            chunker.start_item().extend_from_slice(b"{}");
            let key = format!("k{n}");
            let fields = (n == 2).then_some("a\nb");
            chunker.mark_item(Mark {
                key: &key,
                hash: n * 10,
                raw: Some(n),
                fields,
            });
            chunker.commit_item(n, n).unwrap();
        }
        // A discarded row's mark does not reach the next row.
        chunker.start_item().extend_from_slice(b"{}");
        chunker.mark_item(Mark {
            key: "gone",
            hash: 0,
            raw: None,
            fields: None,
        });
        chunker.discard_item();
        let chunk = chunker.finish().unwrap();
        assert_eq!(chunk.marks().len(), 3);
        let (first, second) = chunk.split();
        assert_eq!(first.marks().get(0).unwrap().key, "k1");
        let two = second.marks().get(0).unwrap();
        assert_eq!(
            (two.key, two.hash, two.raw, two.fields),
            ("k2", 20, Some(2), Some("a\nb"))
        );
        let three = second.marks().subset(&[1]);
        assert_eq!(three.iter().map(|m| m.key).collect::<Vec<_>>(), ["k3"]);
        assert_eq!(three.get(0).unwrap().fields, None);
    }
}

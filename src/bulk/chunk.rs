//! Chunks: rows already serialised to the vendor's item JSON, grouped up to the vendor's item
//! limit and the 5 MiB body limit. Each row is serialised once; a body is those bytes joined.

use bytes::{BufMut, Bytes, BytesMut};

/// SPEC §4: "Chunks hold at most the vendor's item limit and at most 5 MiB of JSON body."
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// One row on its way to the vendor.
#[derive(Debug, Clone)]
pub struct PendingRow {
    pub row: u64,
    pub line: u64,
    /// The vendor item as JSON (a Vec: shrinking it to fit would cost a copy per row).
    pub item: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Chunk {
    pub rows: Vec<PendingRow>,
    /// Sum of the items' sizes.
    item_bytes: usize,
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The request body: `prefix` + items joined by commas + `suffix`.
    pub fn body(&self, prefix: &[u8], suffix: &[u8]) -> Bytes {
        let mut body = BytesMut::with_capacity(self.body_len(prefix.len() + suffix.len()));
        body.put_slice(prefix);
        for (index, row) in self.rows.iter().enumerate() {
            if index > 0 {
                body.put_u8(b',');
            }
            body.put_slice(&row.item);
        }
        body.put_slice(suffix);
        body.freeze()
    }

    fn body_len(&self, envelope: usize) -> usize {
        envelope + self.item_bytes + self.rows.len().saturating_sub(1)
    }

    /// Splits in two halves, to isolate the rows a vendor refuses.
    pub fn split(self) -> (Chunk, Chunk) {
        let mut first = self.rows;
        let second = first.split_off(first.len() / 2);
        (Chunk::from_rows(first), Chunk::from_rows(second))
    }

    pub fn from_rows(rows: Vec<PendingRow>) -> Chunk {
        let item_bytes = rows.iter().map(|r| r.item.len()).sum();
        Chunk { rows, item_bytes }
    }
}

/// Groups rows into chunks of at most `max_items` rows and `MAX_BODY_BYTES` of body.
pub struct Chunker {
    max_items: usize,
    envelope: usize,
    current: Chunk,
}

impl Chunker {
    pub fn new(max_items: usize, envelope: usize) -> Self {
        Chunker {
            max_items: max_items.max(1),
            envelope,
            current: Chunk::default(),
        }
    }

    /// The largest item that fits a request on its own.
    pub fn max_item_bytes(&self) -> usize {
        MAX_BODY_BYTES.saturating_sub(self.envelope)
    }

    /// Adds a row (which must fit on its own, see `max_item_bytes`); returns a chunk that is
    /// full and ready to send, if adding the row closed one.
    pub fn push(&mut self, row: PendingRow) -> Option<Chunk> {
        let grown = self.current.body_len(self.envelope) + row.item.len() + 1;
        let ready = if !self.current.rows.is_empty() && grown > MAX_BODY_BYTES {
            Some(std::mem::take(&mut self.current))
        } else {
            None
        };
        self.current.item_bytes += row.item.len();
        self.current.rows.push(row);
        if ready.is_none() && self.current.rows.len() >= self.max_items {
            return Some(std::mem::take(&mut self.current));
        }
        ready
    }

    /// The last, partly filled chunk.
    pub fn finish(self) -> Option<Chunk> {
        (!self.current.rows.is_empty()).then_some(self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u64, size: usize) -> PendingRow {
        PendingRow {
            row: n,
            line: n + 1,
            item: vec![b'x'; size],
        }
    }

    #[test]
    fn chunks_close_at_the_item_limit() {
        let mut chunker = Chunker::new(3, 10);
        let mut sizes = Vec::new();
        for n in 1..=7 {
            if let Some(chunk) = chunker.push(row(n, 5)) {
                sizes.push(chunk.len());
            }
        }
        sizes.extend(chunker.finish().map(|c| c.len()));
        assert_eq!(sizes, [3, 3, 1]);
    }

    #[test]
    fn chunks_close_before_the_body_limit() {
        let item = MAX_BODY_BYTES / 3;
        let mut chunker = Chunker::new(1000, 20);
        let mut chunks = Vec::new();
        for n in 1..=5 {
            chunks.extend(chunker.push(row(n, item)));
        }
        chunks.extend(chunker.finish());
        assert_eq!(chunks.iter().map(Chunk::len).collect::<Vec<_>>(), [2, 2, 1]);
        for chunk in &chunks {
            assert!(chunk.body(&[b'['; 10], &[b']'; 10]).len() <= MAX_BODY_BYTES);
        }
    }

    #[test]
    fn bodies_join_items_inside_the_envelope() {
        let rows = vec![
            PendingRow {
                row: 1,
                line: 2,
                item: b"{\"a\":1}".to_vec(),
            },
            PendingRow {
                row: 2,
                line: 3,
                item: b"{\"a\":2}".to_vec(),
            },
        ];
        let chunk = Chunk::from_rows(rows);
        assert_eq!(
            &chunk.body(b"{\"items\":[", b"]}")[..],
            b"{\"items\":[{\"a\":1},{\"a\":2}]}"
        );
        let (first, second) = chunk.split();
        assert_eq!((first.rows[0].row, second.rows[0].row), (1, 2));
    }
}

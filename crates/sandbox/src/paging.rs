//! Offset paging without O(offset) pages. A vendor that pages by `offset` makes a server skip
//! `offset` rows for each page, so reading a whole list costs its length squared. Clients read
//! pages in order, so the sandbox remembers where each page it served ended: the next page's
//! offset then maps to a key, and the page is a seek on an index (keyset paging), while the
//! vendor's documented parameters stay as they are on the wire.
//!
//! A remembered end holds only while rows before it neither appeared nor went away; the
//! caller passes a generation that changes whenever that may have happened.

use std::collections::VecDeque;
use std::sync::Mutex;

/// How many page ends are remembered: enough for a few clients paging at once.
const REMEMBERED: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq)]
struct PageEnd {
    list: String,
    offset: u64,
    generation: i64,
    last_key: i64,
}

/// The last key before `offset` in each recently served list, newest last.
#[derive(Default)]
pub struct PageEnds {
    ends: Mutex<VecDeque<PageEnd>>,
}

impl PageEnds {
    /// The key of the row just before `offset` in `list`, if a page ended there in the same
    /// generation.
    pub fn find(&self, list: &str, offset: u64, generation: i64) -> Option<i64> {
        let ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        ends.iter()
            .rev()
            .find(|end| end.list == list && end.offset == offset && end.generation == generation)
            .map(|end| end.last_key)
    }

    /// Notes that the row at `offset - 1` of `list` has key `last_key`.
    pub fn remember(&self, list: &str, offset: u64, generation: i64, last_key: i64) {
        let mut ends = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        ends.retain(|end| !(end.list == list && end.offset == offset));
        if ends.len() == REMEMBERED {
            ends.pop_front();
        }
        ends.push_back(PageEnd {
            list: list.to_string(),
            offset,
            generation,
            last_key,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_page_end_only_in_its_list_offset_and_generation() {
        let ends = PageEnds::default();
        ends.remember("a", 100, 0, 417);
        assert_eq!(ends.find("a", 100, 0), Some(417));
        assert_eq!(ends.find("a", 100, 1), None, "rows went away since");
        assert_eq!(ends.find("a", 200, 0), None);
        assert_eq!(ends.find("b", 100, 0), None);
        ends.remember("a", 100, 1, 500);
        assert_eq!(ends.find("a", 100, 1), Some(500));
        assert_eq!(ends.find("a", 100, 0), None, "replaced");
    }

    #[test]
    fn forgets_the_oldest_beyond_its_size() {
        let ends = PageEnds::default();
        for n in 0..=REMEMBERED as u64 {
            ends.remember("a", n, 0, n as i64);
        }
        assert_eq!(ends.find("a", 0, 0), None);
        assert_eq!(ends.find("a", 1, 0), Some(1));
        assert_eq!(
            ends.find("a", REMEMBERED as u64, 0),
            Some(REMEMBERED as i64)
        );
    }
}

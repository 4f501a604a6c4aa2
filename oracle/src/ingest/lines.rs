//! Line numbers for importers' refusals, counted once through the text.
//!
//! Counting the line breaks before every record from the start of the file made an import
//! quadratic in its size (100,000 CSV labels took minutes of CPU); the records come in order, so
//! the count carries on from the last offset.

/// 1-based line numbers of byte offsets of one text, cheapest when offsets only grow.
pub struct Lines<'a> {
    bytes: &'a [u8],
    /// Offset up to which line breaks are counted.
    counted_to: usize,
    /// 1 + the line breaks before `counted_to`.
    line: usize,
}

impl<'a> Lines<'a> {
    /// A counter over `text`.
    pub fn new(text: &'a str) -> Self {
        Lines {
            bytes: text.as_bytes(),
            counted_to: 0,
            line: 1,
        }
    }

    /// The line of byte `offset` (clamped to the text's end).
    pub fn line(&mut self, offset: usize) -> usize {
        let end = offset.min(self.bytes.len());
        if end < self.counted_to {
            // Out of order (no importer asks this way): count again from the start.
            (self.counted_to, self.line) = (0, 1);
        }
        self.line += self.bytes[self.counted_to..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.counted_to = end;
        self.line
    }

    /// The line a record starting at `offset` begins on: a reader's record offset is where the
    /// previous record ended, so the line breaks (and blank lines) in between are skipped.
    pub fn record_line(&mut self, offset: u64) -> usize {
        let mut end = usize::try_from(offset).map_or(self.bytes.len(), |o| o.min(self.bytes.len()));
        while end < self.bytes.len() && matches!(self.bytes[end], b'\r' | b'\n') {
            end += 1;
        }
        self.line(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_a_count_from_the_start_in_any_order() {
        let text = "a\nb\r\n\nc\n\"d\ne\"\nf";
        let naive = |o: usize| 1 + text.as_bytes()[..o].iter().filter(|&&b| b == b'\n').count();
        let mut lines = Lines::new(text);
        for o in 0..=text.len() + 3 {
            assert_eq!(lines.line(o), naive(o.min(text.len())), "offset {o}");
        }
        for o in (0..=text.len()).rev() {
            assert_eq!(lines.line(o), naive(o), "offset {o} backwards");
        }
        // A record offset at the end of the previous line lands on the next record's line.
        let mut lines = Lines::new(text);
        assert_eq!(lines.record_line(1), 2);
        assert_eq!(lines.record_line(4), 4);
    }
}

//! Source files, spans and line/column lookup.
//!
//! Every span is a byte range in one source file, named by a [`SourceId`] that indexes a
//! [`SourceMap`]. Diagnostics carry spans; rendering turns them into file, line and column.

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// A byte range `start..end` in one source file.
///
/// Spans never take part in equality: `Span == Span` is always true, so two AST nodes are
/// equal when they mean the same, wherever and in whichever form they were written. Compare
/// [`Span::same_place`] when the position itself matters.
#[derive(Debug, Clone, Copy, Default, Eq)]
pub struct Span {
    pub source: SourceId,
    pub start: u32,
    pub end: u32,
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Span {
    pub const fn new(source: SourceId, start: u32, end: u32) -> Span {
        Span { source, start, end }
    }

    /// A span covering both `self` and `other` (same source assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            source: self.source,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The same span moved `by` bytes forward (a sub-parser's span placed in its file).
    pub fn shift(self, by: u32) -> Span {
        Span { source: self.source, start: self.start + by, end: self.end + by }
    }

    pub fn same_place(&self, other: &Span) -> bool {
        self.source == other.source && self.start == other.start && self.end == other.end
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One loaded file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in diagnostics (a path as the user gave it, or `<stdin>`).
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let line_starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { name: name.into(), text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.line_starts[line];
        let col = self.text[start..offset].chars().count();
        (line + 1, col + 1)
    }

    /// Byte offset of a 1-based line and column (in characters); clamps to the text.
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        self.text[start..]
            .char_indices()
            .nth(col.saturating_sub(1))
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }
}

/// All files loaded in one run; diagnostics refer to them by [`SourceId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> SourceId {
        let id = SourceId(u32::try_from(self.files.len()).expect("fewer than 2^32 files"));
        self.files.push(SourceFile::new(name, text));
        id
    }

    pub fn get(&self, id: SourceId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = (SourceId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (SourceId(i as u32), f))
    }

    /// The text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        &self.get(span.source).text[span.range()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_chars() {
        let f = SourceFile::new("x", "ab\ncé d\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // 'é' is two bytes: byte 6 is the space after it, the third character.
        assert_eq!(f.line_col(6), (2, 3));
        assert_eq!(f.offset_of(2, 3), 6);
    }

    #[test]
    fn spans_compare_equal_wherever_they_are() {
        let a = Span::new(SourceId(0), 1, 2);
        let b = Span::new(SourceId(3), 7, 9);
        assert_eq!(a, b);
        assert!(!a.same_place(&b));
    }
}

//! Opaque pagination cursors: the (created_at, id) of the last item of a page. Lists are
//! newest first, so the next page holds everything strictly older than the cursor.

use crate::error::DomainError;
use crate::time::Timestamp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Timestamp,
    pub id: Uuid,
}

/// The default and the largest page size.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// JSON Schema `pattern` of the cursors `decode` accepts, or empty (the first page): 24 bytes
/// in unpadded base64url whose leading 8 (the time, big-endian) are within 0..=MAX_MICROS.
/// A regular expression cannot end exactly there, so it admits times up to December 9961,
/// which hold every cursor this server hands out; a later one it leaves out is still accepted.
pub const PATTERN: &str = "^(A[A-Za-z0-3][A-Za-z0-9_-]{30})?$";

impl Cursor {
    pub fn encode(&self) -> String {
        let mut buf = Vec::with_capacity(24);
        buf.extend_from_slice(&self.created_at.micros().to_be_bytes());
        buf.extend_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn decode(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::invalid("cursor", "not a cursor returned by this server");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        if bytes.len() != 24 {
            return Err(bad());
        }
        let (t, id) = bytes.split_at(8);
        let t = i64::from_be_bytes(t.try_into().map_err(|_| bad())?);
        // Only times this server could have written: both backends compare them alike.
        if !(0..=crate::time::MAX_MICROS).contains(&t) {
            return Err(bad());
        }
        let id = Uuid::from_slice(id).map_err(|_| bad())?;
        Ok(Self {
            created_at: Timestamp::from_micros(t),
            id,
        })
    }
}

/// The longest `q` a list takes, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// `q` of a list: what a name or email must contain, case-insensitively. Blank is no filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search(Option<String>);

impl Search {
    pub fn new(q: Option<&str>) -> Result<Self, DomainError> {
        // Counted as sent, as the OpenAPI document's `maxLength` counts it.
        if q.is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
            return Err(DomainError::invalid(
                "q",
                format!("must be at most {MAX_SEARCH_CHARS} characters"),
            ));
        }
        // No name or email holds one, PostgreSQL refuses it in text, and it would end an FTS5
        // query string early.
        if q.is_some_and(|q| q.contains('\0')) {
            return Err(DomainError::invalid(
                "q",
                "must not contain a NUL character",
            ));
        }
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        Ok(Self(q.map(str::to_lowercase)))
    }

    /// The lower-cased text searched for, if any.
    pub fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Whether one of `fields` contains the text (always, without one).
    pub fn matches(&self, fields: &[&str]) -> bool {
        self.0
            .as_deref()
            .is_none_or(|q| fields.iter().any(|f| f.to_lowercase().contains(q)))
    }

    /// A `LIKE ... ESCAPE '\'` pattern for "contains the text", with `%`, `_` and `\`
    /// escaped so they match themselves; compare it with a lower-cased column.
    pub fn like_pattern(&self) -> Option<String> {
        self.0.as_deref().map(|q| {
            let mut p = String::with_capacity(q.len() + 2);
            p.push('%');
            for c in q.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(c);
            }
            p.push('%');
            p
        })
    }
}

/// The fewest characters a trigram index can search for: a text of 1 or 2 characters holds
/// no trigram, so a list searched for one reads its rows one by one.
pub const TRIGRAM_MIN_CHARS: usize = 3;

impl Search {
    /// The text as an FTS5 query of SQLite's `trigram` tokenizer: one string (between double
    /// quotes, a `"` inside doubled; nothing else is special there, so `AND`, `NEAR(`, `*`,
    /// `^` or `col:` are only characters), which matches the rows where a column contains it.
    /// None without a text, or when it is shorter than `TRIGRAM_MIN_CHARS` (which the
    /// tokenizer cannot match). (`new` refuses a NUL, which would end the string early.)
    pub fn trigram_phrase(&self) -> Option<String> {
        let q = self.0.as_deref()?;
        if q.chars().count() < TRIGRAM_MIN_CHARS || q.contains('\0') {
            return None;
        }
        Some(format!("\"{}\"", q.replace('"', "\"\"")))
    }
}

/// A validated page request.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, DomainError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(DomainError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()?;
        Ok(Self { limit, after })
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched newest first: the extra row only tells
    /// that there is a next page.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> Cursor) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(&key) } else { None };
        Self { items: rows, next }
    }

    /// One page of a whole list held in memory (a list of the organization's few workspaces,
    /// roles, groups or invitations), as the SQL of a keyset page would cut it: ordered by
    /// `key` (oldest first, or newest first), everything strictly past the cursor.
    pub fn of_all(
        mut rows: Vec<T>,
        page: PageRequest,
        newest_first: bool,
        key: impl Fn(&T) -> Cursor,
    ) -> Self {
        let order = |c: Cursor| (c.created_at, c.id);
        rows.sort_by_key(|r| order(key(r)));
        if newest_first {
            rows.reverse();
        }
        if let Some(after) = page.after {
            rows.retain(|r| {
                let k = order(key(r));
                if newest_first {
                    k < order(after)
                } else {
                    k > order(after)
                }
            });
        }
        rows.truncate(page.limit as usize + 1);
        Self::from_rows(rows, page.limit, key)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_escapes_like_wildcards_and_ignores_case() {
        let s = Search::new(Some("  50%_Off\\ ")).unwrap();
        assert_eq!(s.text(), Some("50%_off\\"));
        assert_eq!(s.like_pattern().as_deref(), Some("%50\\%\\_off\\\\%"));
        assert!(s.matches(&["x", "Big 50%_OFF\\ sale"]));
        assert!(!s.matches(&["50 off"]));
        assert_eq!(Search::new(Some("  ")).unwrap(), Search::default());
        assert!(Search::default().matches(&["anything"]));
        assert!(Search::new(Some(&"x".repeat(MAX_SEARCH_CHARS + 1))).is_err());
    }

    #[test]
    fn a_trigram_phrase_is_one_quoted_string_of_3_characters_or_more() {
        let phrase = |q: &str| Search::new(Some(q)).unwrap().trigram_phrase();
        assert_eq!(phrase("ab"), None, "2 characters: no trigram");
        assert_eq!(phrase("ün"), None, "counted in characters, not bytes");
        assert_eq!(phrase("Ünal").as_deref(), Some("\"ünal\""));
        assert_eq!(phrase("a\"b").as_deref(), Some("\"a\"\"b\""));
        assert_eq!(phrase("\"\"\"").as_deref(), Some("\"\"\"\"\"\"\"\""));
        assert_eq!(phrase("x AND y*").as_deref(), Some("\"x and y*\""));
        assert!(
            Search::new(Some("a\0bc")).is_err(),
            "a NUL would end the FTS5 string"
        );
        assert_eq!(Search::default().trigram_phrase(), None);
    }

    #[test]
    fn a_page_of_a_list_in_memory_cuts_where_the_cursor_says() {
        let rows: Vec<(i64, u128)> = vec![(3, 1), (1, 2), (2, 3), (2, 4)];
        let key = |r: &(i64, u128)| Cursor {
            created_at: Timestamp::from_micros(r.0),
            id: Uuid::from_u128(r.1),
        };
        let first = Page::of_all(
            rows.clone(),
            PageRequest::new(Some(2), None).unwrap(),
            false,
            key,
        );
        assert_eq!(first.items, vec![(1, 2), (2, 3)]);
        let cursor = first.next.unwrap().encode();
        let second = Page::of_all(
            rows.clone(),
            PageRequest::new(Some(2), Some(&cursor)).unwrap(),
            false,
            key,
        );
        assert_eq!(second.items, vec![(2, 4), (3, 1)]);
        assert!(second.next.is_none());
        let newest = Page::of_all(rows, PageRequest::new(Some(3), None).unwrap(), true, key);
        assert_eq!(newest.items, vec![(3, 1), (2, 4), (2, 3)]);
        assert!(newest.next.is_some());
    }

    #[test]
    fn the_pattern_admits_the_cursors_handed_out_and_only_decodable_ones() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        assert!(pattern.is_match(""), "the first page");
        // From the epoch to 9891 (the pattern admits up to December 9961).
        for micros in [0, 1_700_000_000_000_000, 250_000_000_000_000_000] {
            let c = Cursor {
                created_at: Timestamp::from_micros(micros),
                id: Uuid::now_v7(),
            }
            .encode();
            assert!(pattern.is_match(&c), "{micros}: {c}");
        }
        // Whatever the pattern admits decodes: its first two characters keep the time's top
        // bits within 0..=MAX_MICROS.
        for c in [
            "A3__________________________________",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "A3______________________________",
        ] {
            assert_eq!(pattern.is_match(c), Cursor::decode(c).is_ok(), "{c}");
        }
        assert!(!pattern.is_match("B_______________________________"));
        assert!(Cursor::decode("B_______________________________").is_err());
    }

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor {
            created_at: Timestamp::from_micros(123_456_789),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("not-a-cursor").is_err());
        assert!(Cursor::decode("").is_err());
        let far = Cursor {
            created_at: Timestamp::from_micros(i64::MIN),
            id: Uuid::now_v7(),
        };
        assert!(
            Cursor::decode(&far.encode()).is_err(),
            "out of range times are refused"
        );
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(201), None).is_err());
        assert_eq!(PageRequest::new(None, None).unwrap().limit, DEFAULT_LIMIT);
    }
}

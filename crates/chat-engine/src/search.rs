//! Search: what a query means, and where its asker may look.

use crate::store::{Found, SearchPlace, SearchQuery};
use crate::{Engine, EngineError};

/// The longest query, in characters.
pub const MOST_SEARCH_CHARS: usize = 200;
/// The most words a query may have.
pub const MOST_SEARCH_TERMS: usize = 10;
/// The most hits a page of results holds, and how many when not said.
pub const MOST_HITS: usize = 50;
pub const DEFAULT_HITS: usize = 20;

/// The words of `query`, each to be found anywhere in a message's text.
pub fn terms(query: &str) -> Result<Vec<String>, EngineError> {
    let len = query.chars().count();
    if len > MOST_SEARCH_CHARS {
        return Err(EngineError::SearchTooLong {
            len,
            max: MOST_SEARCH_CHARS,
        });
    }
    let terms: Vec<String> = query.split_whitespace().map(str::to_owned).collect();
    match terms.len() {
        0 => Err(EngineError::EmptySearch),
        n if n > MOST_SEARCH_TERMS => Err(EngineError::TooManySearchTerms(MOST_SEARCH_TERMS)),
        _ => Ok(terms),
    }
}

impl Engine {
    /// Up to `limit` (at most [`MOST_HITS`]) messages holding every word of
    /// `query`, newest first, after `after`: in room `room` if given (which
    /// `asker` must be allowed to read), else in every open room it may
    /// read now (public rooms it is not banned from, and the private rooms
    /// and direct conversations it is in).
    pub async fn search(
        &self,
        asker: &str,
        query: &str,
        room: Option<&str>,
        after: Option<SearchPlace>,
        limit: usize,
    ) -> Result<Vec<Found>, EngineError> {
        let terms = terms(query)?;
        let rooms = match room {
            Some(name) => {
                let room = self.find_visible_room(name, asker)?;
                room.check_readable(asker)?;
                vec![name.to_owned()]
            }
            None => (self.rooms_after("", usize::MAX, |room| room.check_readable(asker).is_ok()))
                .iter()
                .map(|room| room.name().to_owned())
                .collect(),
        };
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let query = SearchQuery {
            terms,
            rooms,
            after,
            limit: limit.clamp(1, MOST_HITS),
        };
        Ok(self.history_store().search(&query).await?)
    }
}

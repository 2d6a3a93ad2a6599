//! Signed links to files. A browser's `<img>` cannot send a token, so a
//! link carries who it was given to, the room of the message that carries
//! the file, and when it expires, signed with a key every node of a
//! cluster shares; whoever fetches it is then let in only while that
//! reader may read that room.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;

/// How long a link lasts at least; it is rounded up to the hour, so links
/// given within one hour are the same and browsers cache what they fetch.
pub const LINK_LIFETIME_SECS: i64 = 24 * 3600;
const ROUNDING_SECS: i64 = 3600;

/// Bytes of the signature kept in a link: 128 bits.
const SIGNATURE_BYTES: usize = 16;

/// The part of a file a link is to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    File,
    Thumbnail,
}

impl Part {
    fn suffix(self) -> &'static str {
        match self {
            Part::File => "",
            Part::Thumbnail => "/thumbnail",
        }
    }
}

/// What a checked link grants: part `part` of file `id`, to `reader` as
/// a reader of `room`. An empty room: the file's owner, before the file is
/// sent. An empty reader: anyone who may read the room (links in the text
/// the classic and lobby protocols are sent, which have no readers' names
/// when a message is encoded once for all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub part: Part,
    pub room: String,
    pub reader: String,
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this is not a link to a file")]
    NotALink,
    #[error("this link has expired; the message it came with gives a fresh one")]
    Expired,
    #[error("this link was altered or was not made by this server")]
    BadSignature,
}

/// Makes and checks links; a cheap-to-clone handle.
#[derive(Clone)]
pub struct FileLinks {
    key: Arc<[u8]>,
    /// This node's public URL (`https://host:port`), for links in plain
    /// text.
    base: Arc<str>,
}

impl std::fmt::Debug for FileLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("FileLinks")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl FileLinks {
    pub fn new(key: Vec<u8>) -> Self {
        FileLinks {
            key: key.into(),
            base: "".into(),
        }
    }

    /// The links, with `base` (this node's public URL) for full ones.
    pub fn with_base(self, base: &str) -> Self {
        FileLinks {
            base: base.trim_end_matches('/').into(),
            ..self
        }
    }

    /// [`link`](Self::link) as a full URL, for text.
    pub fn full_link(&self, grant: &Grant, now_secs: i64) -> String {
        format!("{}{}", self.base, self.link(grant, now_secs))
    }

    /// A link (a path and query) to `grant`, valid from `now_secs` for at
    /// least [`LINK_LIFETIME_SECS`].
    pub fn link(&self, grant: &Grant, now_secs: i64) -> String {
        let until = (now_secs + LINK_LIFETIME_SECS).div_euclid(ROUNDING_SECS) * ROUNDING_SECS
            + ROUNDING_SECS;
        let signature = hex::encode(&self.signature(grant, until)[..SIGNATURE_BYTES]);
        format!(
            "/files/{}{}?room={}&for={}&until={until}&sig={signature}",
            grant.id,
            grant.part.suffix(),
            utf8_percent_encode(&grant.room, NON_ALPHANUMERIC),
            utf8_percent_encode(&grant.reader, NON_ALPHANUMERIC),
        )
    }

    /// What the link of `path` (`/files/ID[/thumbnail]`) and `query`
    /// grants at `now_secs`, if this server signed it and it has not
    /// expired.
    pub fn check(&self, path: &str, query: &str, now_secs: i64) -> Result<Grant, LinkError> {
        let (id, part) = parse_path(path).ok_or(LinkError::NotALink)?;
        let field = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .and_then(|value| percent_decode_str(value).decode_utf8().ok())
                .map(|value| value.into_owned())
                .ok_or(LinkError::NotALink)
        };
        let grant = Grant {
            id: id.to_owned(),
            part,
            room: field("room")?,
            reader: field("for")?,
        };
        let until: i64 = field("until")?.parse().map_err(|_| LinkError::NotALink)?;
        let signature = hex::decode(field("sig")?)
            .ok()
            .filter(|signature| signature.len() == SIGNATURE_BYTES)
            .ok_or(LinkError::BadSignature)?;
        (self.mac(&grant, until))
            .verify_truncated_left(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        if until < now_secs {
            return Err(LinkError::Expired);
        }
        Ok(grant)
    }

    fn mac(&self, grant: &Grant, until: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        // Each field with its length first, so no two grants sign alike.
        let part: &[u8] = match grant.part {
            Part::File => b"file",
            Part::Thumbnail => b"thumbnail",
        };
        let until = until.to_string();
        for field in [
            grant.id.as_bytes(),
            part,
            grant.room.as_bytes(),
            grant.reader.as_bytes(),
            until.as_bytes(),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac
    }

    fn signature(&self, grant: &Grant, until: i64) -> Vec<u8> {
        self.mac(grant, until).finalize().into_bytes().to_vec()
    }
}

/// The file id and part of a link's path.
pub fn parse_path(path: &str) -> Option<(&str, Part)> {
    let rest = path.strip_prefix("/files/")?;
    let (id, part) = match rest.split_once('/') {
        None => (rest, Part::File),
        Some((id, "thumbnail")) => (id, Part::Thumbnail),
        Some(_) => return None,
    };
    is_file_id(id).then_some((id, part))
}

/// Whether `id` has the form of the ids uploads are given.
pub fn is_file_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn grant(room: &str, reader: &str) -> Grant {
        Grant {
            id: ID.into(),
            part: Part::File,
            room: room.into(),
            reader: reader.into(),
        }
    }

    fn split(link: &str) -> (&str, &str) {
        link.split_once('?').unwrap()
    }

    #[test]
    fn a_link_grants_what_it_was_made_for_until_it_expires() {
        let links = FileLinks::new(vec![7; 32]);
        let given = grant("lobby & friends", "민지");
        let link = links.link(&given, 1_000_000);
        let (path, query) = split(&link);
        assert_eq!(links.check(path, query, 1_000_000), Ok(given.clone()));
        // Valid a day at least, and rounded to the hour.
        assert!(
            links
                .check(path, query, 1_000_000 + LINK_LIFETIME_SECS)
                .is_ok()
        );
        assert_eq!(
            links.check(path, query, 1_000_000 + LINK_LIFETIME_SECS + 2 * 3600),
            Err(LinkError::Expired)
        );
        assert_eq!(link, links.link(&given, 1_000_001));
    }

    #[test]
    fn an_altered_link_is_refused() {
        let links = FileLinks::new(vec![7; 32]);
        let link = links.link(&grant("private", "bob"), 1_000_000);
        let (path, query) = split(&link);
        for altered in [
            query.replace("for=bob", "for=eve"),
            query.replace("room=private", "room=lobby"),
            query.replace("until=", "until=9"),
            query[..query.len() - 2].to_owned(),
        ] {
            assert!(links.check(path, &altered, 1_000_000).is_err(), "{altered}");
        }
        let thumbnail = format!("{path}/thumbnail");
        assert_eq!(
            links.check(&thumbnail, query, 1_000_000),
            Err(LinkError::BadSignature)
        );
        let other_key = FileLinks::new(vec![8; 32]);
        assert_eq!(
            other_key.check(path, query, 1_000_000),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            links.check("/files/../chat.db", query, 1_000_000),
            Err(LinkError::NotALink)
        );
    }
}

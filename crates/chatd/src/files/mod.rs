//! The file service: files and images people share. Accounts upload them
//! (kept by the store, by content hash), attach their own to messages, and
//! anyone who may read a message's room fetches them through signed links
//! ([`links`]). The HTTP adapter on the native port ([`http`]) and the
//! native protocol's `SendMessage` call it; it answers with [`FileError`].

pub mod http;
pub mod images;
pub mod links;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use chat_engine::{Attachment, FileInfo, HistoryStore, MAX_ATTACHMENTS, Message, StoreError};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::sessions::{Session, SessionError, Sessions};
use images::{BadImage, IMAGE_TYPES};
pub use links::{FileLinks, Grant, LinkError, Part};

/// Upload bodies held in memory at once, in MiB, server-wide: an upload
/// waits for room before its body is read.
const UPLOAD_BUFFER_MIB: u32 = 256;

/// Uploads one user may have under way at once: so that one user's slow
/// uploads cannot hold the whole memory budget.
pub const UPLOADS_PER_USER: usize = 4;

/// Images decoded at once (each may take [`images`]' decoding memory and
/// a core).
const IMAGES_AT_ONCE: usize = 2;

/// The longest file name kept, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Limits on files; see the `--max-file-bytes` flags.
#[derive(Debug, Clone)]
pub struct FileLimits {
    pub max_file_bytes: u64,
    /// What one account's files may take in all.
    pub quota_bytes: u64,
    pub guests_upload: bool,
    /// How long an uploaded file waits to be sent before it is removed;
    /// also how long a file whose messages were all deleted stays.
    pub unsent_grace: Duration,
}

/// Why the file service refused.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "this needs a session: send the header `Authorization: Bearer TOKEN` with the \
         token Login gave"
    )]
    NoToken,
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("guests may not upload files on this server; register an account")]
    GuestsMayNotUpload,
    #[error("say the file's size in the header Content-Length")]
    LengthRequired,
    #[error("the file is {len} bytes; this server takes files of up to {max} bytes")]
    TooLarge { len: u64, max: u64 },
    #[error(
        "your files take {used} of your {quota} bytes, and this one is {len}; \
         delete messages with files you no longer need to make room"
    )]
    OverQuota { used: u64, quota: u64, len: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("you are uploading {0} files already; wait for one to finish")]
    TooManyUploads(usize),
    #[error(transparent)]
    BadImage(#[from] BadImage),
    #[error("a message carries at most {0} files; send the rest in another")]
    TooManyAttachments(usize),
    #[error("there is no file `{0}`: upload it first (unsent files go after a while)")]
    NoSuchFile(String),
    #[error("file `{0}` is not yours: only the account that uploaded a file may send it")]
    NotYours(String),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("you may not read the room this file was sent in: {0}")]
    MayNotRead(SessionError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// A cheap-to-clone handle to the file service.
#[derive(Clone)]
pub struct Files {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn HistoryStore>,
    sessions: Sessions,
    links: FileLinks,
    limits: FileLimits,
    metrics: Metrics,
    upload_buffer: Arc<Semaphore>,
    /// How many uploads each user has under way.
    uploading: Arc<Mutex<HashMap<String, usize>>>,
    images: Semaphore,
}

/// An upload let in: whose, how long, and its room in memory.
pub struct Admitted {
    session: Arc<Session>,
    _buffer: OwnedSemaphorePermit,
    _under_way: UnderWay,
}

/// One of a user's uploads under way, counted until it is dropped.
struct UnderWay {
    user: String,
    uploading: Arc<Mutex<HashMap<String, usize>>>,
}

impl UnderWay {
    /// Counts an upload of `user`'s, unless it has its most under way.
    fn start(uploading: &Arc<Mutex<HashMap<String, usize>>>, user: &str) -> Option<Self> {
        let mut counts = uploading.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(user.to_owned()).or_insert(0);
        if *count >= UPLOADS_PER_USER {
            return None;
        }
        *count += 1;
        Some(UnderWay {
            user: user.to_owned(),
            uploading: Arc::clone(uploading),
        })
    }
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        let mut counts = self
            .uploading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// A file kept, with links for its owner.
#[derive(Debug)]
pub struct Uploaded {
    pub info: FileInfo,
    pub url: String,
    pub thumbnail_url: Option<String>,
}

/// A file a link was checked for, ready to be read.
#[derive(Debug)]
pub struct Opened {
    pub name: String,
    pub mime_type: String,
    /// Shown inline (a known image type), else a download.
    pub inline: bool,
    pub hash: String,
    pub size: u64,
}

impl Files {
    pub fn new(
        store: Arc<dyn HistoryStore>,
        sessions: Sessions,
        (links, limits): (FileLinks, FileLimits),
        metrics: Metrics,
    ) -> Self {
        Files {
            shared: Arc::new(Shared {
                store,
                sessions,
                links,
                limits,
                metrics,
                upload_buffer: Arc::new(Semaphore::new(UPLOAD_BUFFER_MIB as usize)),
                uploading: Arc::default(),
                images: Semaphore::new(IMAGES_AT_ONCE),
            }),
        }
    }

    pub fn links(&self) -> &FileLinks {
        &self.shared.links
    }

    pub fn limits(&self) -> &FileLimits {
        &self.shared.limits
    }

    /// Lets in an upload of `length` bytes (from `Content-Length`) by the
    /// session of `token`, before its body is read: an account's (or a
    /// guest's, if guests upload), under the size limit and its quota,
    /// paced like sends; it waits for room in memory.
    pub async fn admit(
        &self,
        token: Option<&str>,
        length: Option<u64>,
    ) -> Result<Admitted, FileError> {
        let shared = &self.shared;
        let session = shared
            .sessions
            .authenticate(token.ok_or(FileError::NoToken)?)?;
        if !session.user().is_account() && !shared.limits.guests_upload {
            return Err(FileError::GuestsMayNotUpload);
        }
        let len = length.ok_or(FileError::LengthRequired)?;
        let max = shared.limits.max_file_bytes;
        if len > max {
            return Err(FileError::TooLarge { len, max });
        }
        if len == 0 {
            return Err(FileError::Empty);
        }
        let used = shared.store.files_size(session.name()).await?;
        let quota = shared.limits.quota_bytes;
        if used.saturating_add(len) > quota {
            return Err(FileError::OverQuota { used, quota, len });
        }
        let under_way = UnderWay::start(&shared.uploading, session.name())
            .ok_or(FileError::TooManyUploads(UPLOADS_PER_USER))?;
        (session.user()).take_send(shared.sessions.max_sends_per_second())?;
        let mib = u32::try_from(len.div_ceil(1 << 20))
            .unwrap_or(u32::MAX)
            .clamp(1, UPLOAD_BUFFER_MIB);
        let buffer = Arc::clone(&shared.upload_buffer)
            .acquire_many_owned(mib)
            .await
            .map_err(|_| FileError::ShuttingDown)?;
        Ok(Admitted {
            session,
            _buffer: buffer,
            _under_way: under_way,
        })
    }

    /// Keeps the upload `admitted` let in, named `name`, with its `body`:
    /// typed by its content, an image cleaned and given a thumbnail.
    pub async fn keep(
        &self,
        admitted: Admitted,
        name: &str,
        body: Bytes,
    ) -> Result<Uploaded, FileError> {
        let prepared = {
            let _image = self.shared.images.acquire().await;
            tokio::task::spawn_blocking(move || images::prepare(body))
                .await
                .map_err(|_| FileError::ShuttingDown)??
        };
        let owner = admitted.session.name().to_owned();
        let info = FileInfo {
            id: hex::encode(rand::random::<[u8; 16]>()),
            owner: owner.clone(),
            name: clean_name(name),
            mime_type: prepared.mime_type,
            size: prepared.bytes.len() as u64,
            width: prepared.width,
            height: prepared.height,
            uploaded_at_ms: now_ms(),
            content_hash: sha256(&prepared.bytes),
            thumbnail_hash: prepared.thumbnail.as_deref().map(sha256),
        };
        (self.shared.store)
            .put_file(&info, prepared.bytes, prepared.thumbnail)
            .await?;
        self.shared.metrics.file_uploaded(info.size);
        let link = |part| {
            let grant = Grant {
                id: info.id.clone(),
                part,
                room: String::new(),
                reader: owner.clone(),
            };
            self.links().link(&grant, now_ms() / 1000)
        };
        Ok(Uploaded {
            url: link(Part::File),
            thumbnail_url: info.thumbnail_hash.is_some().then(|| link(Part::Thumbnail)),
            info,
        })
    }

    /// The files `ids` as `session`'s user attaches them to a message:
    /// each must be its own.
    pub async fn attachments(
        &self,
        session: &Session,
        ids: &[String],
    ) -> Result<Vec<Attachment>, FileError> {
        if ids.len() > MAX_ATTACHMENTS {
            return Err(FileError::TooManyAttachments(MAX_ATTACHMENTS));
        }
        let mut attachments = Vec::with_capacity(ids.len());
        for id in ids {
            let info = match links::is_file_id(id) {
                true => self.shared.store.file(id).await?,
                false => None,
            };
            let info = info.ok_or_else(|| FileError::NoSuchFile(id.clone()))?;
            if info.owner != session.name() {
                return Err(FileError::NotYours(id.clone()));
            }
            attachments.push(Attachment {
                id: info.id,
                name: info.name,
                mime_type: info.mime_type,
                size: info.size,
                width: info.width,
                height: info.height,
            });
        }
        Ok(attachments)
    }

    /// The file the link of `path` and `query` is to, if it is good and
    /// its reader (or, with a `token`, the token's user) may read its room
    /// now.
    pub async fn open(
        &self,
        path: &str,
        query: &str,
        token: Option<&str>,
    ) -> Result<Opened, FileError> {
        let grant = self.links().check(path, query, now_ms() / 1000)?;
        let reader = match token {
            Some(token) => self.shared.sessions.authenticate(token)?.name().to_owned(),
            None => grant.reader.clone(),
        };
        let info = self.shared.store.file(&grant.id).await?;
        let info = info.ok_or_else(|| FileError::NoSuchFile(grant.id.clone()))?;
        if grant.room.is_empty() {
            // An owner's link, given at upload.
            if reader != info.owner {
                return Err(FileError::NotYours(info.id));
            }
        } else {
            (self.shared.sessions)
                .room_readable_by(&reader, &grant.room)
                .map_err(FileError::MayNotRead)?;
        }
        let (hash, mime_type, size) = match grant.part {
            Part::File => (info.content_hash, info.mime_type, info.size),
            Part::Thumbnail => {
                let hash = (info.thumbnail_hash).ok_or(FileError::NoSuchFile(info.id))?;
                // Thumbnails are small: read whole, for their size and type.
                let thumbnail = self.read(&hash, 0, 16 << 20).await?;
                let mime_type = images::mime_type_of(&thumbnail).to_owned();
                (hash, mime_type, thumbnail.len() as u64)
            }
        };
        Ok(Opened {
            inline: IMAGE_TYPES.contains(&mime_type.as_str()),
            name: info.name,
            mime_type,
            hash,
            size,
        })
    }

    /// `bytes` of a file went to a client.
    pub fn served(&self, bytes: usize) {
        self.shared.metrics.file_bytes_served(bytes as u64);
    }

    /// Up to `len` bytes under `hash` from `from` on.
    pub async fn read(&self, hash: &str, from: u64, len: usize) -> Result<Bytes, FileError> {
        let bytes = self.shared.store.file_bytes(hash, from, len).await?;
        bytes.ok_or_else(|| FileError::NoSuchFile(hash.to_owned()))
    }

    /// Removes files that were never sent, or whose messages were all
    /// deleted, once they are older than the grace, until shutdown.
    pub async fn remove_unused_until_shutdown(self, shutdown: CancellationToken) {
        let grace = self.shared.limits.unsent_grace;
        let mut every =
            tokio::time::interval(grace.clamp(Duration::from_secs(1), Duration::from_secs(3600)));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            let before = now_ms() - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
            match self.shared.store.remove_unused_files(before).await {
                Ok(0) => {}
                Ok(removed) => {
                    self.shared.metrics.files_removed(removed as u64);
                    tracing::info!(removed, "unused files removed");
                }
                Err(error) => tracing::warn!(%error, "removing unused files failed"),
            }
        }
    }
}

/// `message`'s text as the protocols without files show it (classic and
/// lobby): a line per file after it, with its name, size and a link for
/// anyone who may read the room (so: a public room's).
pub fn text_with_files(links: &FileLinks, room: &str, message: &Message) -> String {
    let mut text = message.text.clone();
    for file in &message.attachments {
        let grant = Grant {
            id: file.id.clone(),
            part: Part::File,
            room: room.to_owned(),
            reader: String::new(),
        };
        let size = bytesize::ByteSize(file.size).display().si();
        let link = links.full_link(&grant, now_ms() / 1000);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("[{}, {size}] {link}", file.name));
    }
    text
}

/// A file name as kept: its last path component, with control and
/// direction characters (which can disguise an extension) replaced, cut
/// to [`MAX_NAME_BYTES`]; `file` if nothing is left.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let mut clean = String::new();
    for c in base.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if clean.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        clean.push(if hidden { '_' } else { c });
    }
    if clean.is_empty() || clean == "." || clean == ".." {
        return "file".to_owned();
    }
    clean
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_last_part_and_lose_hidden_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\ann\\photo.jpg"), "photo.jpg");
        assert_eq!(clean_name("invoice\u{202e}gpj.exe"), "invoice_gpj.exe");
        assert_eq!(clean_name("  "), "file");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(&"가".repeat(200)).len(), 255);
    }
}

//! The network side of the window: a small tokio runtime of its own that
//! carries out requests in order with the client library and hands back
//! updates, waking the UI for each.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use chat_client::cli::ConnectArgs;
use chat_client::{
    AccountChange, Client, ClientEvent, HistoryPage, NotifyLevel, RoomAction, SearchPage,
};
use eframe::egui;
use tokio::sync::mpsc;

/// How many messages one history request asks for.
const HISTORY_PAGE: u32 = 50;

/// What the window asks of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Connect(Login),
    Send {
        room: String,
        text: String,
        /// The message of the room this one answers.
        reply_to: Option<u64>,
    },
    /// A new text for the user's message `seq`.
    Edit {
        room: String,
        seq: u64,
        text: String,
    },
    Delete {
        room: String,
        seq: u64,
    },
    /// Puts the user's `emoji` on message `seq`, or takes it away.
    React {
        room: String,
        seq: u64,
        emoji: String,
        remove: bool,
    },
    Join(String),
    Create {
        room: String,
        private: bool,
    },
    Leave(String),
    /// An owner's or moderator's change to `room`.
    Moderate {
        room: String,
        action: RoomAction,
    },
    /// Opens the direct conversation with account `name` and shows it.
    Direct(String),
    History {
        room: String,
        before: Option<u64>,
    },
    /// A new password, or deleting the account.
    Account(AccountChange),
    /// The user has read `room` up to entry `seq`.
    MarkRead {
        room: String,
        seq: u64,
    },
    SetNotify {
        room: String,
        level: NotifyLevel,
    },
    /// Messages holding every word of `query`, in `room` (or every room
    /// the user may read), from `page_token` on.
    Search {
        query: String,
        room: Option<String>,
        page_token: String,
    },
    /// A desktop notification, where the system has a service for them.
    Notify {
        title: String,
        body: String,
    },
    /// Sends the file at `path` to `room` (dropped on the window).
    Upload {
        room: String,
        path: PathBuf,
    },
    /// Asks the system's file chooser for a file to send to `room`.
    PickFile {
        room: String,
    },
    /// The thumbnail of file `file`, at `link`.
    FetchPicture {
        file: String,
        link: String,
    },
}

/// Logging in, or registering: the flags the form stands for, and the
/// password (empty for a guest).
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub args: ConnectArgs,
    pub password: String,
}

// By hand, to keep the password out of debug output.
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

/// What the network hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    Connected {
        name: String,
        /// An account, not a guest.
        is_account: bool,
        /// What files' links are shown after (`https://host:port`).
        files_base: String,
    },
    /// A change went through: say so.
    Said(String),
    /// The account is gone, and with it the session.
    AccountDeleted,
    ConnectFailed(String),
    Event(ClientEvent),
    History {
        room: String,
        page: Result<HistoryPage, String>,
    },
    /// A page of search results; `page_token` is the one asked with (empty
    /// for the first page).
    Found {
        page_token: String,
        page: Result<SearchPage, String>,
    },
    /// A command went through; show `room` if set.
    Done {
        room: Option<String>,
    },
    Failed(String),
    /// The thumbnail of file `file`, decoded, or why not.
    Picture {
        file: String,
        picture: Result<egui::ColorImage, String>,
    },
}

/// Runs requests on a runtime of its own. Dropping it stops the work.
pub struct Backend {
    requests: mpsc::UnboundedSender<Request>,
    updates: std_mpsc::Receiver<Update>,
    _runtime: tokio::runtime::Runtime,
}

impl Backend {
    /// Starts the runtime; `wake` is called after every update, to repaint.
    pub fn start(wake: impl Fn() + Send + Sync + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("chat-gui-net")
            .enable_all()
            .build()
            .expect("a tokio runtime for the network");
        let (requests, queue) = mpsc::unbounded_channel();
        let (updates_tx, updates) = std_mpsc::channel();
        let sink = Sink {
            updates: updates_tx,
            wake: Arc::new(wake),
        };
        runtime.spawn(work(queue, sink));
        Backend {
            requests,
            updates,
            _runtime: runtime,
        }
    }

    pub fn request(&self, request: Request) {
        // The worker lives as long as the runtime, which lives as long as us.
        let _ = self.requests.send(request);
    }

    /// Every update that has arrived since the last call.
    pub fn updates(&self) -> Vec<Update> {
        self.updates.try_iter().collect()
    }
}

#[derive(Clone)]
struct Sink {
    updates: std_mpsc::Sender<Update>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Sink {
    fn send(&self, update: Update) -> bool {
        let sent = self.updates.send(update).is_ok();
        (self.wake)();
        sent
    }
}

/// Carries out requests one at a time, so sends keep their order.
async fn work(mut queue: mpsc::UnboundedReceiver<Request>, sink: Sink) {
    let mut client: Option<Client> = None;
    while let Some(request) = queue.recv().await {
        let update = match (request, &client) {
            (Request::Connect(Login { args, password }), _) => {
                let name = args.name.clone().unwrap_or_default();
                let is_account = args.register || args.password;
                match args.log_in(name, password).await {
                    Ok((connected, events)) => {
                        let name = connected.name().to_owned();
                        let files_base = connected.full_url("");
                        client = Some(connected);
                        tokio::spawn(forward(events, sink.clone()));
                        Update::Connected {
                            name,
                            is_account,
                            files_base,
                        }
                    }
                    Err(error) => Update::ConnectFailed(error.to_string()),
                }
            }
            (Request::Notify { title, body }, _) => {
                // D-Bus may keep it waiting; without a notification
                // service it fails, and the window has told anyway.
                tokio::task::spawn_blocking(move || {
                    let _ = notify_rust::Notification::new()
                        .appname("chat")
                        .summary(&title)
                        .body(&body)
                        .show();
                });
                continue;
            }
            (_, None) => Update::Failed("not connected".into()),
            (
                Request::Send {
                    room,
                    text,
                    reply_to,
                },
                Some(client),
            ) => match client
                .reply(
                    &room,
                    &chat_client::emoji::expand_shortcodes(&text),
                    reply_to,
                )
                .await
            {
                Ok(_) => continue,
                Err(error) => Update::Failed(format!("not sent: {error}")),
            },
            // What changed shows when the server tells the room.
            (Request::Edit { room, seq, text }, Some(client)) => {
                let text = chat_client::emoji::expand_shortcodes(&text);
                match client.edit(&room, seq, &text).await {
                    Ok(_) => continue,
                    Err(error) => Update::Failed(format!("not changed: {error}")),
                }
            }
            (Request::Delete { room, seq }, Some(client)) => {
                match client.delete(&room, seq).await {
                    Ok(()) => continue,
                    Err(error) => Update::Failed(format!("not deleted: {error}")),
                }
            }
            (
                Request::React {
                    room,
                    seq,
                    emoji,
                    remove,
                },
                Some(client),
            ) => match client.react(&room, seq, &emoji, remove).await {
                Ok(_) => continue,
                Err(error) => Update::Failed(error.to_string()),
            },
            (Request::Join(room), Some(client)) => {
                done(client.join_room(&room).await.map(|r| Some(r.name)))
            }
            (Request::Create { room, private }, Some(client)) => done(
                client
                    .create_room(&room, private)
                    .await
                    .map(|r| Some(r.name)),
            ),
            (Request::Moderate { room, action }, Some(client)) => {
                done(client.moderate(&room, action).await.map(|_| None))
            }
            (Request::Direct(name), Some(client)) => {
                done(client.open_direct(&name).await.map(|r| Some(r.name)))
            }
            (Request::Leave(room), Some(client)) => {
                done(client.leave_room(&room).await.map(|()| None))
            }
            (Request::Account(change), Some(client)) => {
                let deleting = matches!(change, AccountChange::Delete { .. });
                match client.change_account(change).await {
                    Ok(()) if deleting => Update::AccountDeleted,
                    Ok(()) => Update::Said("Password changed; your other sessions ended.".into()),
                    Err(error) => Update::Failed(error.to_string()),
                }
            }
            // Best effort: the next read moves it again.
            (Request::MarkRead { room, seq }, Some(client)) => {
                let _ = client.mark_read(&room, seq).await;
                continue;
            }
            (Request::SetNotify { room, level }, Some(client)) => {
                match client.set_notify(&room, level).await {
                    Ok(()) => continue,
                    Err(error) => Update::Failed(format!("not set: {error}")),
                }
            }
            (
                Request::Search {
                    query,
                    room,
                    page_token,
                },
                Some(client),
            ) => Update::Found {
                page: (client.search(&query, room.as_deref(), &page_token).await)
                    .map_err(|error| error.to_string()),
                page_token,
            },
            (Request::Upload { room, path }, Some(client)) => upload(client, &room, &path).await,
            (Request::PickFile { room }, Some(client)) => {
                // The chooser stays open as long as the user likes: aside,
                // so sends go on meanwhile.
                let (client, sink) = (client.clone(), sink.clone());
                tokio::spawn(async move {
                    let picked = rfd::AsyncFileDialog::new()
                        .set_title(format!("Send a file to #{room}"))
                        .pick_file()
                        .await;
                    if let Some(file) = picked {
                        sink.send(upload(&client, &room, file.path()).await);
                    }
                });
                continue;
            }
            (Request::FetchPicture { file, link }, Some(client)) => {
                // Fetched and decoded aside: a slow picture holds up no send.
                let (client, sink) = (client.clone(), sink.clone());
                tokio::spawn(async move {
                    let picture = match client.fetch(&link).await {
                        Ok(bytes) => decode_picture(&bytes),
                        Err(error) => Err(error.to_string()),
                    };
                    sink.send(Update::Picture { file, picture });
                });
                continue;
            }
            (Request::History { room, before }, Some(client)) => Update::History {
                page: client
                    .history(&room, before, HISTORY_PAGE)
                    .await
                    .map_err(|error| error.to_string()),
                room,
            },
        };
        if !sink.send(update) {
            return;
        }
    }
}

/// Sends the file at `path` to `room`; the message shows it once the
/// server has it.
async fn upload(client: &Client, room: &str, path: &std::path::Path) -> Update {
    let name = path.file_name().map_or_else(
        || "file".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) => return Update::Failed(format!("cannot read {}: {error}", path.display())),
    };
    let sent = match client.upload(&name, bytes).await {
        Ok(file) => client.send_files(room, "", None, vec![file.id]).await,
        Err(error) => Err(error),
    };
    match sent {
        Ok(_) => Update::Said(format!("Sent {name}.")),
        Err(error) => Update::Failed(format!("{name} was not sent: {error}")),
    }
}

/// A picture's bytes as pixels.
fn decode_picture(bytes: &[u8]) -> Result<egui::ColorImage, String> {
    let image = image::load_from_memory(bytes).map_err(|e| e.to_string())?;
    let rgba = image.to_rgba8();
    let size = [rgba.width() as usize, rgba.height() as usize];
    Ok(egui::ColorImage::from_rgba_unmultiplied(
        size,
        rgba.as_raw(),
    ))
}

fn done(result: Result<Option<String>, chat_client::ClientError>) -> Update {
    match result {
        Ok(room) => Update::Done { room },
        Err(error) => Update::Failed(error.to_string()),
    }
}

async fn forward(mut events: mpsc::Receiver<ClientEvent>, sink: Sink) {
    while let Some(event) = events.recv().await {
        if !sink.send(Update::Event(event)) {
            return;
        }
    }
}

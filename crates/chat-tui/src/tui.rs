//! The full-screen terminal UI: the login screen when it is needed, then
//! the chat. Reads keys, server events and the results of commands,
//! updates the state and redraws.

use chat_client::cli::ConnectArgs;
use chat_client::{Client, ClientError, ClientEvent, HistoryPage};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};
use tokio::sync::mpsc;

use crate::app::{Action, App, HISTORY_PAGE};
use crate::login::{LoginAction, LoginForm};
use crate::runner::{self, Outcome};
use crate::ui;

/// What the UI reads besides server events: the terminal's keys, and
/// signals that end it (SIGTERM, SIGHUP), which leave as `/quit` does so
/// the terminal is restored.
enum Input {
    Terminal(Event),
    Stop,
}

/// What a finished action hands back to the UI.
enum Done {
    Outcomes(Vec<Outcome>),
    /// A message was sent, or failed to be.
    Sent(Vec<Outcome>),
    History(String, Result<HistoryPage, ClientError>),
}

type Keys = mpsc::UnboundedReceiver<Input>;

/// Logs in as `connect` says, as `name`, and runs the UI until the user
/// quits, then restores the terminal.
/// Runs the client; `bell` rings the terminal's bell when a message
/// mentions the user.
pub async fn run(connect: ConnectArgs, name: String, bell: bool) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    let mut keys = read_keys();
    let (result, client) = match log_in(&mut terminal, &mut keys, &connect, name).await {
        Ok(Some((client, events, server))) => {
            let mut app = App::new(client.name(), server);
            app.files_base = client.full_url("");
            app.bell = bell;
            let result = event_loop(&mut terminal, &client, &mut keys, events, app).await;
            (result, Some(client))
        }
        Ok(None) => (Ok(()), None),
        Err(error) => (Err(error), None),
    };
    ratatui::restore();
    if let Some(client) = client {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), client.quit()).await;
    }
    result
}

/// Terminal input blocks, so it is read on a thread of its own; the
/// signals that end the UI come in the same queue.
fn read_keys() -> Keys {
    let (keys_tx, keys) = mpsc::unbounded_channel();
    let stop = keys_tx.clone();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if keys_tx.send(Input::Terminal(event)).is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hangup.recv() => {}
        }
        let _ = stop.send(Input::Stop);
    });
    keys
}

/// A key the login screen should handle; `None` when the UI must end.
fn login_key(input: Option<Input>) -> Option<Option<ratatui::crossterm::event::KeyEvent>> {
    match input? {
        Input::Terminal(Event::Key(key)) => Some(Some(key)),
        Input::Terminal(_) => Some(None),
        Input::Stop => None,
    }
}

/// Logs in, showing the login screen first when a password is needed, and
/// again with the error after every failed attempt. `None`: the user quit.
async fn log_in(
    terminal: &mut DefaultTerminal,
    keys: &mut Keys,
    connect: &ConnectArgs,
    name: String,
) -> anyhow::Result<Option<(Client, mpsc::Receiver<ClientEvent>, String)>> {
    let mut form = LoginForm::new(&connect.server, &name, connect.register);
    let mut show_form = connect.needs_password() || name.is_empty();
    loop {
        while show_form && !form.connecting {
            terminal.draw(|frame| ui::draw_login(frame, &form))?;
            let Some(key) = login_key(keys.recv().await) else {
                return Ok(None);
            };
            if key.is_some_and(|key| form.on_key(key) == Some(LoginAction::Quit)) {
                return Ok(None);
            }
        }
        if show_form {
            terminal.draw(|frame| ui::draw_login(frame, &form))?;
        }
        let password = form.password.text.clone();
        let args = ConnectArgs {
            server: form.server.text.trim().to_owned(),
            name: Some(form.name.text.trim().to_owned()),
            password: !password.is_empty(),
            register: form.register,
            ..connect.clone()
        };
        let name = form.name.text.trim().to_owned();
        let attempt = tokio::select! {
            attempt = args.log_in(name, password) => attempt,
            () = until_quit(keys, &mut form) => return Ok(None),
        };
        match attempt {
            Ok((client, events)) => return Ok(Some((client, events, args.server))),
            // A file the flags name is unusable: nothing on the form fixes that.
            Err(ClientError::Setup(error)) => anyhow::bail!(error),
            Err(error) => {
                form.failed(&error);
                show_form = true;
            }
        }
    }
}

/// Waits for the user to quit while an attempt is under way.
async fn until_quit(keys: &mut Keys, form: &mut LoginForm) {
    form.connecting = true;
    while let Some(key) = login_key(keys.recv().await) {
        if key.is_some_and(|key| form.on_key(key) == Some(LoginAction::Quit)) {
            return;
        }
    }
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    client: &Client,
    keys: &mut Keys,
    mut events: mpsc::Receiver<ClientEvent>,
    mut app: App,
) -> anyhow::Result<()> {
    // One worker carries out actions in order, so sends keep their order.
    let (actions, queue) = mpsc::unbounded_channel();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    tokio::spawn(work(client.clone(), queue, done_tx));
    // Statuses expire: the screen is looked at every second.
    let mut clock = tokio::time::interval(std::time::Duration::from_secs(1));

    while !app.quit {
        let mut scroll_limit = 0;
        terminal.draw(|frame| scroll_limit = ui::draw(frame, &app))?;
        app.scroll_limit = Some(scroll_limit);
        let action = tokio::select! {
            Some(input) = keys.recv() => match input {
                Input::Terminal(Event::Key(key)) => app.on_key(key),
                Input::Terminal(_) => None,
                Input::Stop => {
                    app.quit = true;
                    None
                }
            },
            _ = clock.tick() => {
                app.tick(std::time::Instant::now());
                app.due_mark_read()
            }
            Some(event) = events.recv() => {
                let action = app.apply(event);
                if app.take_bell() {
                    use std::io::Write;
                    let mut out = std::io::stdout();
                    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                }
                action
            }
            Some(finished) = done.recv() => {
                match finished {
                    Done::Outcomes(outcomes) => outcomes.into_iter().for_each(|o| app.outcome(o)),
                    Done::Sent(outcomes) => {
                        app.sent();
                        outcomes.into_iter().for_each(|o| app.outcome(o));
                    }
                    Done::History(room, Ok(page)) => app.history_loaded(&room, page),
                    Done::History(room, Err(error)) => {
                        app.rooms.history_loaded(&room, None);
                        app.outcome(Outcome::Error(error.to_string()));
                    }
                }
                None
            }
            else => break,
        };
        if let Some(action) = action {
            let current = app.rooms.current.clone();
            let _ = actions.send((action, current));
        }
    }
    Ok(())
}

async fn work(
    client: Client,
    mut queue: mpsc::UnboundedReceiver<(Action, Option<String>)>,
    done: mpsc::UnboundedSender<Done>,
) {
    while let Some((action, current)) = queue.recv().await {
        let finished = match action {
            Action::Send {
                room,
                text,
                reply_to,
            } => Done::Sent(runner::send(&client, &room, &text, reply_to).await),
            Action::Account(change) => Done::Outcomes(runner::account(&client, change).await),
            // Best effort: the next one says as much, and a lost connection
            // is said by the status line already.
            Action::MarkRead { room, seq } => {
                let _ = client.mark_read(&room, seq).await;
                Done::Outcomes(Vec::new())
            }
            Action::OnMessage { room, seq, action } => {
                Done::Outcomes(runner::on_message(&client, &room, seq, action).await)
            }
            Action::Run(command) => {
                Done::Outcomes(runner::run(&client, command, current.as_deref()).await)
            }
            Action::SearchMore { query, page_token } => {
                Done::Outcomes(runner::search(&client, query, page_token).await)
            }
            Action::FetchHistory { room, before } => {
                let page = client.history(&room, before, HISTORY_PAGE).await;
                Done::History(room, page)
            }
        };
        if done.send(finished).is_err() {
            return;
        }
    }
}

//! The full-screen terminal UI: reads keys, server events and the results
//! of commands, updates the [`App`] and redraws.

use chat_client::{Client, ClientError, ClientEvent, HistoryPage};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};
use tokio::sync::mpsc;

use crate::app::{Action, App, HISTORY_PAGE};
use crate::runner::{self, Outcome};
use crate::ui;

/// What a finished action hands back to the UI.
enum Done {
    Outcomes(Vec<Outcome>),
    History(String, Result<HistoryPage, ClientError>),
}

/// Runs the UI until the user quits, then restores the terminal.
pub async fn run(
    client: Client,
    events: mpsc::Receiver<ClientEvent>,
    app: App,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &client, events, app).await;
    ratatui::restore();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), client.logout()).await;
    result
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    client: &Client,
    mut events: mpsc::Receiver<ClientEvent>,
    mut app: App,
) -> anyhow::Result<()> {
    // Terminal input blocks, so it is read on a thread of its own.
    let (keys_tx, mut keys) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if keys_tx.send(event).is_err() {
                return;
            }
        }
    });
    // One worker carries out actions in order, so sends keep their order.
    let (actions, queue) = mpsc::unbounded_channel();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    tokio::spawn(work(client.clone(), queue, done_tx));

    while !app.quit {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        let action = tokio::select! {
            Some(event) = keys.recv() => match event {
                Event::Key(key) => app.on_key(key),
                _ => None,
            },
            Some(event) = events.recv() => app.apply(event),
            Some(finished) = done.recv() => {
                match finished {
                    Done::Outcomes(outcomes) => outcomes.into_iter().for_each(|o| app.outcome(o)),
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
            Action::Send { room, text } => {
                Done::Outcomes(runner::send(&client, &room, &text).await)
            }
            Action::Run(command) => {
                Done::Outcomes(runner::run(&client, command, current.as_deref()).await)
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

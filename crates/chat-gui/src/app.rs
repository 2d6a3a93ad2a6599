//! The eframe application: applies network updates, draws, and hands the
//! requests the drawing made to the network.

use eframe::egui;

use crate::backend::{Backend, Request};
use crate::state::{ChatView, LoginForm, Screen, State};
use crate::view;

pub struct ChatGui {
    pub state: State,
    backend: Backend,
}

impl ChatGui {
    /// A window starting on the login screen with these fields filled in.
    pub fn new(ctx: &egui::Context, form: LoginForm) -> Self {
        crate::fonts::add_fallback_font(ctx);
        let repaint = ctx.clone();
        ChatGui {
            state: State::new(form),
            backend: Backend::start(move || repaint.request_repaint()),
        }
    }
}

impl eframe::App for ChatGui {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        for update in self.backend.updates() {
            if let Some(request) = self.state.apply(update) {
                self.backend.request(request);
            }
        }
        for request in view::show(ui, &mut self.state) {
            self.backend.request(request);
        }
        if let Screen::Chat(view) = &mut self.state.screen {
            view.focused = ui.ctx().input(|i| i.viewport().focused.unwrap_or(true));
            let requests = attend(ui.ctx(), view);
            requests.into_iter().for_each(|r| self.backend.request(r));
        }
    }
}

/// What the window does for the user's attention: tells of the messages
/// that call for it (asking the system to draw the eye to the window for
/// a mention), and moves the read marker while the user reads.
fn attend(ctx: &egui::Context, view: &mut ChatView) -> Vec<Request> {
    let mut requests = Vec::new();
    for alert in std::mem::take(&mut view.alerts) {
        if alert.mention {
            let attention = egui::UserAttentionType::Informational;
            ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(attention));
        }
        requests.push(Request::Notify {
            title: alert.title,
            body: alert.body,
        });
    }
    requests.extend(view.due_mark_read());
    requests
}

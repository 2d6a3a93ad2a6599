//! The eframe application: applies network updates, draws, and hands the
//! requests the drawing made to the network.

use eframe::egui;

use crate::backend::Backend;
use crate::state::{LoginForm, State};
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
    }
}

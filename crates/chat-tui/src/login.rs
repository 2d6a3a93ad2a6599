//! The login screen's state and keys: where to connect, as whom, with which
//! password, and whether to create the account. Shown when a password is
//! needed, and again with the error when logging in fails, so a taken name
//! or a wrong password is fixed without starting over. No drawing, no I/O.

use chat_client::{ClientError, Code};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::line_edit::LineEdit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Server,
    Name,
    Password,
    /// The password again, when creating an account.
    Again,
}

impl Field {
    /// The field `by` places after this one among `fields`, going round.
    fn step(self, by: isize, fields: &[Field]) -> Field {
        let at = fields.iter().position(|&f| f == self).unwrap_or(0);
        let next = (at as isize + by).rem_euclid(fields.len() as isize);
        fields[next as usize]
    }
}

/// What the screen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAction {
    /// Log in, or register with [`LoginForm::register`], as the form says.
    Submit,
    Quit,
}

#[derive(Clone)]
pub struct LoginForm {
    pub server: LineEdit,
    pub name: LineEdit,
    /// Empty: a guest.
    pub password: LineEdit,
    /// The password typed again, for a new account: a typo there would
    /// lock its owner out.
    pub again: LineEdit,
    /// Create an account under the name, instead of logging in.
    pub register: bool,
    pub focus: Field,
    pub error: Option<String>,
    /// An attempt is under way; only quitting is listened to.
    pub connecting: bool,
}

impl LoginForm {
    /// The form as the command line fills it in, with the cursor where
    /// something is still missing.
    pub fn new(server: &str, name: &str, register: bool) -> Self {
        let focus = if name.is_empty() {
            Field::Name
        } else {
            Field::Password
        };
        LoginForm {
            server: LineEdit::new(server),
            name: LineEdit::new(name),
            password: LineEdit::default(),
            again: LineEdit::default(),
            register,
            focus,
            error: None,
            connecting: false,
        }
    }

    /// After a failed attempt: shows `error`, with the cursor on the field
    /// that needs fixing.
    pub fn failed(&mut self, error: &ClientError) {
        self.connecting = false;
        self.focus = match error {
            ClientError::Unreachable { .. } => Field::Server,
            ClientError::Refused {
                code: Code::Unauthenticated | Code::ResourceExhausted,
                ..
            } => Field::Password,
            ClientError::Refused {
                code: Code::InvalidArgument,
                message,
            } if message.contains("password") => Field::Password,
            // The server's wording tells a registered name (log in to it
            // with its password) from one a guest is using.
            ClientError::NameTaken { message, .. } if message.contains("registered") => {
                Field::Password
            }
            _ => Field::Name,
        };
        if self.focus == Field::Password {
            self.password.clear();
            self.again.clear();
        }
        self.error = Some(error.to_string());
    }

    pub fn field(&self, field: Field) -> &LineEdit {
        match field {
            Field::Server => &self.server,
            Field::Name => &self.name,
            Field::Password => &self.password,
            Field::Again => &self.again,
        }
    }

    /// The fields shown, in order: the password again only when creating
    /// an account.
    pub fn fields(&self) -> &'static [Field] {
        if self.register {
            &[Field::Server, Field::Name, Field::Password, Field::Again]
        } else {
            &[Field::Server, Field::Name, Field::Password]
        }
    }

    fn field_mut(&mut self, field: Field) -> &mut LineEdit {
        match field {
            Field::Server => &mut self.server,
            Field::Name => &mut self.name,
            Field::Password => &mut self.password,
            Field::Again => &mut self.again,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<LoginAction> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return Some(LoginAction::Quit),
            KeyCode::Char('c' | 'd') if ctrl => return Some(LoginAction::Quit),
            _ if self.connecting => {}
            KeyCode::Char('r') if ctrl => {
                self.register = !self.register;
                if !self.fields().contains(&self.focus) {
                    self.focus = Field::Password;
                }
            }
            KeyCode::Tab | KeyCode::Down => self.focus = self.focus.step(1, self.fields()),
            KeyCode::BackTab | KeyCode::Up => self.focus = self.focus.step(-1, self.fields()),
            KeyCode::Enter => return self.submit(),
            _ => {
                self.field_mut(self.focus).on_key(&key);
            }
        }
        None
    }

    fn submit(&mut self) -> Option<LoginAction> {
        let missing = if self.server.text.trim().is_empty() {
            Some((Field::Server, "give the server's address"))
        } else if self.name.text.trim().is_empty() {
            Some((Field::Name, "give a name"))
        } else if self.register && self.password.text.is_empty() {
            Some((Field::Password, "choose a password for the new account"))
        } else if self.register && self.again.text != self.password.text {
            Some((
                Field::Again,
                "the two passwords differ: type the password again",
            ))
        } else {
            None
        };
        if let Some((field, error)) = missing {
            self.focus = field;
            self.error = Some(error.into());
            return None;
        }
        self.error = None;
        self.connecting = true;
        Some(LoginAction::Submit)
    }
}

// By hand, to keep the password out of debug output.
impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("server", &self.server.text)
            .field("name", &self.name.text)
            .field("register", &self.register)
            .field("focus", &self.focus)
            .field("error", &self.error)
            .field("connecting", &self.connecting)
            .finish_non_exhaustive()
    }
}

//! Loading the settings from flags, environment variables and the
//! `--config` TOML file, and writing them back out (`chatd config`).
//!
//! A file's key is a flag's long name, and its value goes through the
//! flag's own parser, so the file takes exactly what the flag takes
//! (`keepalive-interval = "20s"`, `channel-ports = "50054-50057"`; numbers
//! and `true`/`false` bare). The file's values go in as if given before
//! the command line's flags, unless a flag or environment variable sets
//! the same setting.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use toml::de::{DeTable, DeValue};

use crate::Config;

/// Keys that are not settings: where the file is, and clap's own.
const NOT_SETTINGS: &[&str] = &["config", "help", "version"];

/// Every setting, as given or defaulted: key to value, as the flag would
/// take it. `None` for a setting left unset (one with no default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(BTreeMap<String, Option<SettingValue>>);

/// A setting's value, and whether it is a number or a switch (written
/// bare in TOML) or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue {
    pub text: String,
    pub bare: bool,
}

/// One setting that differs between two configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    pub key: String,
    pub old: String,
    pub new: String,
}

/// Why the settings cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A bad flag or environment variable, or `--help`/`--version`:
    /// clap's own message.
    #[error(transparent)]
    Flags(#[from] clap::Error),
    #[error("cannot read the configuration file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A bad file: `path:line: what is wrong`.
    #[error("{}:{line}: {message}", path.display())]
    File {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The settings of `args` (`args[0]` is the program), with the
/// environment and the `--config` file they name.
pub fn load<I, T>(args: I) -> Result<Config, LoadError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let command = Config::command();
    let given = command.clone().try_get_matches_from(&args)?;
    let path = given.get_one::<PathBuf>("config");
    let from_file = match path {
        Some(path) => file_flags(&command, &given, path)?,
        None => Vec::new(),
    };
    let merged = args
        .iter()
        .take(1)
        .chain(from_file.iter().map(|(flag, _, _)| flag))
        .chain(args.iter().skip(1));
    let matches = command
        .clone()
        .try_get_matches_from(merged)
        .map_err(|error| refused_value(error, path.map(PathBuf::as_path), &from_file))?;
    let mut config = Config::from_arg_matches(&matches)?;
    config.settings = Settings::of(&command, &matches);
    Ok(config)
}

/// A flag from the file: the flag, its key, its line.
type FileFlag = (OsString, String, usize);

/// The flags the file at `path` stands for, leaving out the settings that
/// `given` has from the command line or the environment.
fn file_flags(
    command: &clap::Command,
    given: &ArgMatches,
    path: &Path,
) -> Result<Vec<FileFlag>, LoadError> {
    let text_of_file = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_owned(),
        error,
    })?;
    let at = |offset: usize, message: String| LoadError::File {
        path: path.to_owned(),
        line: text_line(&text_of_file, offset),
        message,
    };
    let table = DeTable::parse(&text_of_file).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        at(offset, error.message().to_owned())
    })?;
    let mut flags = Vec::new();
    for (key, value) in table.get_ref() {
        let name = key.get_ref().as_ref();
        let offset = key.span().start;
        let Some(arg) = command
            .get_arguments()
            .filter(|arg| !NOT_SETTINGS.contains(&arg.get_id().as_str()))
            .find(|arg| arg.get_long() == Some(name))
        else {
            return Err(at(
                offset,
                format!(
                    "unknown setting `{name}` (the settings are the flags of `chatd --help`, without `--`)"
                ),
            ));
        };
        let switch = matches!(arg.get_action(), ArgAction::SetTrue);
        let text = match value.get_ref() {
            DeValue::Boolean(on) if switch => on.to_string(),
            _ if switch => return Err(at(offset, format!("`{name}` is a switch: true or false"))),
            DeValue::String(text) => text.to_string(),
            DeValue::Integer(number) => {
                integer(number.as_str(), number.radix()).ok_or_else(|| {
                    at(
                        offset,
                        format!("`{name}`: {} is too large", number.as_str()),
                    )
                })?
            }
            _ => {
                return Err(at(
                    offset,
                    format!("`{name}` takes a string or a number, as `--{name}` does"),
                ));
            }
        };
        let id = arg.get_id().as_str();
        if matches!(
            given.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let line = text_line(&text_of_file, offset);
        if switch {
            if text == "true" {
                flags.push((OsString::from(format!("--{name}")), name.to_owned(), line));
            }
        } else {
            flags.push((
                OsString::from(format!("--{name}={text}")),
                name.to_owned(),
                line,
            ));
        }
    }
    Ok(flags)
}

/// The line `offset` is on, counting from 1.
fn text_line(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A value the flags' parsers refused: if it came from the file, the
/// error names its key and line.
fn refused_value(error: clap::Error, path: Option<&Path>, from_file: &[FileFlag]) -> LoadError {
    let flag = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(flag)) => flag.clone(),
        _ => return error.into(),
    };
    let name = flag
        .trim_start_matches("--")
        .split([' ', '='])
        .next()
        .unwrap_or_default();
    match (path, from_file.iter().find(|(_, key, _)| key == name)) {
        (Some(path), Some((_, key, line))) => LoadError::File {
            path: path.to_owned(),
            line: *line,
            message: format!("`{key}`: {}", clap_reason(&error)),
        },
        _ => error.into(),
    }
}

/// A TOML integer's digits (perhaps with `_`) in `radix`, in decimal.
fn integer(digits: &str, radix: u32) -> Option<String> {
    let digits = digits.replace('_', "");
    let digits = digits
        .trim_start_matches('+')
        .trim_start_matches("0x")
        .trim_start_matches("0o")
        .trim_start_matches("0b");
    i128::from_str_radix(digits, radix)
        .ok()
        .map(|n| n.to_string())
}

/// What clap says is wrong with a value, without its `error:` heading and
/// usage lines.
fn clap_reason(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.trim_start_matches("error: ").to_owned()
}

impl Settings {
    /// Every setting of `command` in `matches`.
    fn of(command: &clap::Command, matches: &ArgMatches) -> Self {
        let mut settings = BTreeMap::new();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            if NOT_SETTINGS.contains(&id) {
                continue;
            }
            let switch = matches!(arg.get_action(), ArgAction::SetTrue);
            let value = match matches.get_raw(id) {
                Some(mut values) => values.next_back().map(|raw| SettingValue {
                    text: raw.to_string_lossy().into_owned(),
                    bare: switch || is_number(&raw.to_string_lossy()),
                }),
                None => None,
            };
            settings.insert(long.to_owned(), value);
        }
        Settings(settings)
    }

    /// What differs from `self` in `new`.
    pub fn changes_to(&self, new: &Settings) -> Vec<SettingChange> {
        let shown = |value: Option<&Option<SettingValue>>| match value {
            Some(Some(value)) => value.text.clone(),
            _ => "(unset)".to_owned(),
        };
        let keys: BTreeSet<&String> = self.0.keys().chain(new.0.keys()).collect();
        keys.into_iter()
            .filter(|key| self.0.get(*key) != new.0.get(*key))
            .map(|key| SettingChange {
                key: key.clone(),
                old: shown(self.0.get(key)),
                new: shown(new.0.get(key)),
            })
            .collect()
    }

    /// `self`, with `key` as it is in `other`.
    pub fn with_setting_of(mut self, other: &Settings, key: &str) -> Self {
        match other.0.get(key) {
            Some(value) => self.0.insert(key.to_owned(), value.clone()),
            None => self.0.remove(key),
        };
        self
    }

    /// The settings as a configuration file; unset ones commented out.
    pub fn to_toml(&self) -> String {
        let mut file = String::new();
        for (key, value) in &self.0 {
            let _ = match value {
                Some(SettingValue { text, bare: true }) => writeln!(file, "{key} = {text}"),
                Some(SettingValue { text, bare: false }) => {
                    writeln!(file, "{key} = {}", quoted(text))
                }
                None => writeln!(file, "# {key} ="),
            };
        }
        file
    }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_settings_read_back_as_the_same_settings() {
        let given = load([
            "chatd",
            "--max-rooms",
            "7",
            "--classic-room",
            "a \"quoted\" \\ room",
            "--require-accounts",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
        ])
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chatd.toml");
        std::fs::write(&path, given.settings.to_toml()).unwrap();
        let read = load([OsString::from("chatd"), "--config".into(), path.into()]).unwrap();
        assert_eq!(read.settings, given.settings);
        assert_eq!(read.rooms.classic_room, "a \"quoted\" \\ room");
        assert!(read.users.require_accounts);
        assert_eq!(read.rooms.max_rooms, 7);
    }

    #[test]
    fn toml_integers_in_any_radix_become_decimal() {
        assert_eq!(integer("1_000", 10).as_deref(), Some("1000"));
        assert_eq!(integer("0x1F", 16).as_deref(), Some("31"));
        assert_eq!(integer("1F", 16).as_deref(), Some("31"));
        assert_eq!(integer("0o17", 8).as_deref(), Some("15"));
        assert_eq!(integer("-3", 10).as_deref(), Some("-3"));
    }
}

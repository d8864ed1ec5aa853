//! The one error type of the config loader.
//!
//! Every layer (reading the file, the schema walk, serde, validation)
//! reports through [`ConfigError`], so the binary maps any refusal to the
//! same exit code and prints it as one line. Each variant carries its place
//! already formatted (`file, line L, column C`, or the bare origin when no
//! place is known): the layers that know the document build it, and nothing
//! downstream needs the text again.

/// Why a configuration was refused. Each message is one line naming the
/// file (or "built-in default") with line and column where known, the key
/// or flag, the value, and what is allowed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be used at all: missing, a directory, unreadable,
    /// too large, not UTF-8 text.
    #[error("config file {path}: {problem}")]
    File { path: String, problem: String },
    /// The text is not valid TOML.
    #[error("{at}: invalid TOML: {message}")]
    Syntax { at: String, message: String },
    /// A key that the config does not have.
    #[error("{at}: unknown key `{key}`; allowed keys {scope}: {allowed}")]
    UnknownKey {
        at: String,
        key: String,
        scope: String,
        allowed: String,
    },
    /// A value of the wrong TOML type.
    #[error("{at}: {key} = {value} is {found}; expected {expected}")]
    WrongType {
        at: String,
        key: String,
        value: String,
        found: String,
        expected: String,
    },
    /// A value of the right type outside what is allowed.
    #[error("{at}: {key} = {value}: {allowed}")]
    Invalid {
        at: String,
        key: String,
        value: String,
        allowed: String,
    },
    /// A rule over a whole table (weights that do not sum to 1).
    #[error("{at}: [{table}]: {problem}")]
    Table {
        at: String,
        table: String,
        problem: String,
    },
    /// A command-line override outside what is allowed.
    #[error("{flag} {value}: {allowed}")]
    Flag {
        flag: String,
        value: String,
        allowed: String,
    },
}

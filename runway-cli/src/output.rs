//! What the generated commands print, and how a failure is classified: the
//! [`CliConfig`] of the generated [`crate::generated::Cli`].
//!
//! Answers are JSON on stdout: indented for a terminal, one line when piped (for
//! `jq` and scripts). Errors are one line on stderr. Every answer is also kept as
//! JSON, so that `create-task --wait` can follow the task it created (and print
//! only the task as it ended).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use runway_api::{Error, ResponseValue};
use serde::Serialize;

use crate::generated::CliConfig;

/// Why a command failed, for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The command line was wrong (exit 2).
    Usage,
    /// The server answered with an error, or a task failed (exit 3).
    Api,
    /// The server could not be reached, or did not answer in time (exit 4).
    Network,
    /// Anything else: a file could not be read or written (exit 1).
    Other,
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Other => 1,
            Failure::Usage => 2,
            Failure::Api => 3,
            Failure::Network => 4,
        }
    }

    /// The failure of a transport error.
    pub fn of_transport(err: &reqwest::Error) -> Self {
        if err.is_connect() || err.is_timeout() || err.is_request() {
            Failure::Network
        } else {
            Failure::Other
        }
    }
}

/// Prints answers and remembers the last one, and what failed. A cheap handle:
/// clones share their state (the generated CLI owns one, the caller keeps one).
#[derive(Clone)]
pub struct Output(Rc<State>);

/// What an [`Output`] holds.
pub struct State {
    /// Indent JSON (stdout is a terminal).
    pretty: bool,
    /// The last answer, as JSON.
    last: RefCell<Option<serde_json::Value>>,
    /// What failed, if anything did.
    failure: Cell<Option<Failure>>,
    /// Answers are kept, not printed (a command whose printed answer comes later).
    held: Cell<bool>,
}

impl Output {
    /// Output for a terminal (`pretty`) or a pipe.
    pub fn new(pretty: bool) -> Self {
        Self(Rc::new(State {
            pretty,
            last: RefCell::new(None),
            failure: Cell::new(None),
            held: Cell::new(false),
        }))
    }

    /// Keeps answers from now on without printing them (`held`), or prints them
    /// again.
    pub fn hold(&self, held: bool) {
        self.0.held.set(held);
    }

    /// The last answer printed, as JSON.
    pub fn last(&self) -> Option<serde_json::Value> {
        self.0.last.borrow().clone()
    }

    /// What failed, if anything did.
    pub fn failure(&self) -> Option<Failure> {
        self.0.failure.get()
    }

    /// Prints `value` as JSON on stdout (unless answers are held), and keeps it.
    pub fn print<T: Serialize>(&self, value: &T) {
        *self.0.last.borrow_mut() = serde_json::to_value(value).ok();
        if self.0.held.get() {
            return;
        }
        let text = if self.0.pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        match text {
            Ok(text) => println!("{text}"),
            Err(err) => eprintln!("error: cannot print the answer: {err}"),
        }
    }
}

impl CliConfig for Output {
    fn success_item<T>(&self, value: &ResponseValue<T>)
    where
        T: schemars::JsonSchema + Serialize + std::fmt::Debug,
    {
        self.print(&**value);
    }

    fn success_no_item(&self, _: &ResponseValue<()>) {}

    fn error<T>(&self, value: &Error<T>)
    where
        T: schemars::JsonSchema + Serialize + std::fmt::Debug,
    {
        let failure = match value {
            Error::ErrorResponse(response) => {
                let body = serde_json::to_value(&**response).unwrap_or_default();
                let detail = &body["error"];
                eprintln!(
                    "error: {} {}: {}{}",
                    response.status().as_u16(),
                    detail["code"].as_str().unwrap_or("error"),
                    detail["message"].as_str().unwrap_or("(no message)"),
                    detail["param"]
                        .as_str()
                        .map(|p| format!(" (parameter {p})"))
                        .unwrap_or_default()
                );
                Failure::Api
            }
            Error::UnexpectedResponse(response) => {
                eprintln!("error: unexpected answer {}", response.status());
                Failure::Api
            }
            Error::InvalidResponsePayload(_, err) => {
                eprintln!("error: the answer could not be read: {err}");
                Failure::Api
            }
            Error::CommunicationError(err) | Error::ResponseBodyError(err) => {
                eprintln!("error: {err}");
                Failure::of_transport(err)
            }
            Error::InvalidRequest(message) => {
                // Said as the SDK says it: the field at fault, then what is wrong.
                let refused =
                    runway_api::RunwayError::from(
                        Error::<runway_api::types::ErrorResponse>::InvalidRequest(message.clone()),
                    );
                eprintln!("error: {refused}");
                Failure::Usage
            }
            other => {
                eprintln!("error: {other}");
                Failure::Other
            }
        };
        self.0.failure.set(Some(failure));
    }

    fn list_start<T>(&self)
    where
        T: schemars::JsonSchema + Serialize + std::fmt::Debug,
    {
    }

    fn list_item<T>(&self, value: &T)
    where
        T: schemars::JsonSchema + Serialize + std::fmt::Debug,
    {
        self.print(value);
    }

    fn list_end_success<T>(&self)
    where
        T: schemars::JsonSchema + Serialize + std::fmt::Debug,
    {
    }

    fn list_end_error<T>(&self, value: &Error<T>)
    where
        T: schemars::JsonSchema + Serialize + std::fmt::Debug,
    {
        self.error(value);
    }
}

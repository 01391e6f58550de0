//! Following a task live: [`Client::task_events`], the task's states as the
//! server sends them (`GET /v1/tasks/{id}/events`, Server-Sent Events).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::tasks::is_final;
use crate::{Client, RunwayError, types};

/// How often a stream that ended before the task's final state (its server
/// stopping) is opened again, resuming from the last state received.
const RECONNECTS: u32 = 5;

/// One event of a `text/event-stream`.
#[derive(Debug, Default, PartialEq, Eq)]
struct SseEvent {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

/// Reads the events of a `text/event-stream` from its bytes as they arrive
/// (the lines of the WHATWG format: `field: value`, comments, events ended by an
/// empty line; `\n`, `\r\n` or `\r` ends a line).
#[derive(Debug, Default)]
struct SseParser {
    pending: Vec<u8>,
    event: SseEvent,
    has_data: bool,
}

impl SseParser {
    /// Adds `chunk`; answers the events it completed.
    fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
            // A `\r\n` pair is one line end; a lone `\r` at the chunk's end waits.
            let crlf = self.pending[end] == b'\r' && self.pending.get(end + 1) == Some(&b'\n');
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let line: Vec<u8> = self.pending.drain(..end).collect();
            self.pending.drain(..if crlf { 2 } else { 1 });
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            return std::mem::take(&mut self.has_data).then_some(event);
        }
        if line.starts_with(':') {
            return None; // a comment (the server's keep-alive)
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                if self.has_data {
                    self.event.data.push('\n');
                }
                self.event.data.push_str(value);
                self.has_data = true;
            }
            "id" => self.event.id = Some(value.to_owned()),
            "event" => self.event.event = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// Where a [`Client::task_events`] stream stands.
struct Following<'a> {
    client: &'a Client,
    task_id: String,
    last_event_id: Option<String>,
    body: Option<futures_util::stream::BoxStream<'a, Result<Bytes, reqwest::Error>>>,
    parser: SseParser,
    ready: std::collections::VecDeque<types::Task>,
    reconnects: u32,
    ended: bool,
}

impl<'a> Following<'a> {
    /// Opens the event stream, from the last state received.
    async fn open(&mut self) -> Result<(), RunwayError> {
        let mut request = self.client.get_task_events().task_id(self.task_id.as_str());
        if let Some(last) = &self.last_event_id {
            request = request.last_event_id(last.clone());
        }
        let response = request.send().await?;
        self.body = Some(response.into_inner().into_inner().boxed());
        self.parser = SseParser::default();
        Ok(())
    }

    /// The next state of the task, `None` after its final one.
    async fn next(&mut self) -> Result<Option<types::Task>, RunwayError> {
        loop {
            if let Some(task) = self.ready.pop_front() {
                self.ended = is_final(&task);
                return Ok(Some(task));
            }
            if self.ended {
                return Ok(None);
            }
            let Some(body) = self.body.as_mut() else {
                self.open().await?;
                continue;
            };
            match body.next().await {
                Some(chunk) => {
                    for event in self.parser.push(&chunk?) {
                        if event.event.as_deref().is_some_and(|name| name != "task") {
                            continue;
                        }
                        let task: types::Task =
                            serde_json::from_str(&event.data).map_err(|source| {
                                RunwayError::InvalidBody {
                                    status: Some(reqwest::StatusCode::OK),
                                    body: Bytes::from(event.data.clone()),
                                    source,
                                }
                            })?;
                        if event.id.is_some() {
                            self.last_event_id = event.id;
                        }
                        self.ready.push_back(task);
                    }
                }
                // The server ended the stream before the final state (it stops):
                // open it again, from the last state received.
                None if self.reconnects < RECONNECTS => {
                    self.reconnects += 1;
                    self.body = None;
                }
                // It keeps ending early: stop here (a waiter reads the task instead).
                None => return Ok(None),
            }
        }
    }
}

impl Client {
    /// The states of task `task_id` as the server sends them: the current state
    /// at once, then each change of status or progress, ending after the final
    /// state (`succeeded`, `failed` or `cancelled`, yielded as a task, not as an
    /// error). A stream the server ends early (it stops) is opened again from
    /// the last state received. Errors: those of `get_task_events` (404 for
    /// another key's task; a server without the route answers 404 too).
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(client: runway_api::Client) -> Result<(), runway_api::RunwayError> {
    /// let mut events = std::pin::pin!(client.task_events("task_0193a5c2e4f1_5f2b9c0d1e8a4b7c"));
    /// while let Some(task) = events.next().await {
    ///     let task = task?;
    ///     println!("{:?} {:.0}%", task.status, task.progress * 100.0);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn task_events(
        &self,
        task_id: impl AsRef<str>,
    ) -> impl Stream<Item = Result<types::Task, RunwayError>> + Send + '_ {
        let following = Following {
            client: self,
            task_id: task_id.as_ref().to_owned(),
            last_event_id: None,
            body: None,
            parser: SseParser::default(),
            ready: std::collections::VecDeque::new(),
            reconnects: 0,
            ended: false,
        };
        futures_util::stream::try_unfold(following, |mut following| async move {
            Ok(following.next().await?.map(|task| (task, following)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_chunks_and_line_ends() {
        let mut parser = SseParser::default();
        assert!(parser.push(b": keep-alive\n\nid: running.0").is_empty());
        assert!(
            parser
                .push(b".5\r\nevent: task\r\ndata: {\"a\":")
                .is_empty()
        );
        let events = parser.push(b"1}\r\n\r\ndata: x\rdata: y\r\r");
        assert_eq!(
            events,
            [SseEvent {
                id: Some("running.0.5".into()),
                event: Some("task".into()),
                data: "{\"a\":1}".into(),
            }]
        );
        // A lone `\r` at the end of a chunk may be the first half of `\r\n`: the
        // event it ends comes with the next chunk.
        let events = parser.push(b"data: z\r");
        assert_eq!(
            events,
            [SseEvent {
                id: None,
                event: None,
                data: "x\ny".into(),
            }]
        );
        let last = parser.push(b"\n\n");
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].data, "z");
    }
}

//! Tasks typed by their operation: [`Client::start_task`] takes an operation's
//! request (or its builder) and its wait gives that operation's own response.
//!
//! ```no_run
//! use runway_api::prelude::*;
//!
//! # async fn run(client: Client) -> Result<(), RunwayError> {
//! let task = client
//!     .start_task(types::GenerateVideoRequest::builder().prompt("waves on a beach").duration(5))
//!     .await?;
//! let video: types::GenerateVideoResponse = task
//!     .wait()
//!     .on_progress(|task| println!("{:.0}%", task.progress * 100.0))
//!     .await?;
//! println!("{}", video.video_url);
//! # Ok(()) }
//! ```

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::edits::{
    AdjustVideoSpeed, ColorAdjustImage, FilterImage, FilterVideo, ResizeImage, TrimVideo,
};
use crate::{Client, RunwayError, TaskWait, types};

/// A request that can run as a task, and the response its task gives.
///
/// Implemented by every operation's request type, its builder, and the edit
/// builders of [`types::EditImageRequest`] and [`types::EditVideoRequest`].
pub trait TaskRequest {
    /// The operation's own response: what a finished task's output reads as.
    type Output: DeserializeOwned;
    /// The body of `create_task`, or why the request is refused (before sending).
    fn into_task_request(self) -> Result<types::CreateTaskRequest, RunwayError>;
}

/// Implements [`TaskRequest`] for a request type and its builders (the generated
/// one, or the edit builders of a union); and `TryFrom` of the builders for
/// `CreateTaskRequest`, so `create_task().body(builder)` works too.
macro_rules! task_requests {
    ($($variant:ident: $request:ident => $response:ident $(, $edit:ty)*;)*) => {$(
        impl TaskRequest for types::$request {
            type Output = types::$response;
            fn into_task_request(self) -> Result<types::CreateTaskRequest, RunwayError> {
                Ok(types::CreateTaskRequest::$variant(self))
            }
        }
        $(task_requests!(@built $variant, $request, $response, $edit);)*
    )*};
    (@built $variant:ident, $request:ident, $response:ident, $builder:ty) => {
        impl TaskRequest for $builder {
            type Output = types::$response;
            fn into_task_request(self) -> Result<types::CreateTaskRequest, RunwayError> {
                Ok(types::CreateTaskRequest::$variant(types::$request::try_from(self)?))
            }
        }
        impl TryFrom<$builder> for types::CreateTaskRequest {
            type Error = types::error::ConversionError;
            fn try_from(builder: $builder) -> Result<Self, Self::Error> {
                Ok(types::CreateTaskRequest::$variant(types::$request::try_from(builder)?))
            }
        }
    };
}

task_requests! {
    GenerateImage: GenerateImageRequest => GenerateImageResponse, types::builder::GenerateImageRequestBuilder;
    EditImage: EditImageRequest => EditImageResponse, ResizeImage, ColorAdjustImage, FilterImage;
    GenerateVideo: GenerateVideoRequest => GenerateVideoResponse, types::builder::GenerateVideoRequestBuilder;
    EditVideo: EditVideoRequest => EditVideoResponse, TrimVideo, FilterVideo, AdjustVideoSpeed;
    VideoFilter: VideoFilterRequest => VideoFilterResponse, types::builder::VideoFilterRequestBuilder;
    ImageToVideo: ImageToVideoRequest => ImageToVideoResponse, types::builder::ImageToVideoRequestBuilder;
    AddTextToImage: AddTextToImageRequest => AddTextToImageResponse, types::builder::AddTextToImageRequestBuilder;
    StyleTransfer: StyleTransferRequest => StyleTransferResponse, types::builder::StyleTransferRequestBuilder;
    ResizeVideo: ResizeVideoRequest => ResizeVideoResponse, types::builder::ResizeVideoRequestBuilder;
    GenerateThumbnail: GenerateThumbnailRequest => GenerateThumbnailResponse, types::builder::GenerateThumbnailRequestBuilder;
    ExtractAudio: ExtractAudioRequest => ExtractAudioResponse, types::builder::ExtractAudioRequestBuilder;
    SpeedAdjust: SpeedAdjustRequest => SpeedAdjustResponse, types::builder::SpeedAdjustRequestBuilder;
}

/// A task started by [`Client::start_task`]; [`StartedTask::wait`] gives the
/// operation's response.
#[derive(Debug)]
pub struct StartedTask<'a, O> {
    client: &'a Client,
    task: types::Task,
    output: PhantomData<fn() -> O>,
}

impl<'a, O: DeserializeOwned> StartedTask<'a, O> {
    /// The task's id.
    pub fn id(&self) -> &str {
        &self.task.id
    }

    /// The task as `create_task` answered it.
    pub fn task(&self) -> &types::Task {
        &self.task
    }

    /// Waits for the task (as [`Client::wait_for_task`] does) and reads its output
    /// as the operation's response.
    pub fn wait(&self) -> OutputWait<'a, O> {
        OutputWait {
            wait: self.client.wait_for_task(&self.task.id),
            output: PhantomData,
        }
    }
}

/// A wait for a typed task, from [`StartedTask::wait`]; `.await` it.
#[must_use = "a task wait does nothing until it is awaited"]
pub struct OutputWait<'a, O> {
    wait: TaskWait<'a>,
    output: PhantomData<fn() -> O>,
}

impl<'a, O> OutputWait<'a, O> {
    /// Gives up after `timeout` with [`RunwayError::TaskTimedOut`] (default 10 min).
    pub fn timeout(self, timeout: Duration) -> Self {
        Self {
            wait: self.wait.timeout(timeout),
            ..self
        }
    }

    /// Waits as long as the task takes.
    pub fn no_timeout(self) -> Self {
        Self {
            wait: self.wait.no_timeout(),
            ..self
        }
    }

    /// Calls `callback` with the task each time its status or progress changes.
    pub fn on_progress(self, callback: impl FnMut(&types::Task) + Send + 'a) -> Self {
        Self {
            wait: self.wait.on_progress(callback),
            ..self
        }
    }
}

impl<'a, O: DeserializeOwned + 'a> IntoFuture for OutputWait<'a, O> {
    type Output = Result<O, RunwayError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { output_of(self.wait.await?) })
    }
}

/// A succeeded task's output read as its operation's response: the output's
/// field is the response's (`video_url` of `generate-video`).
fn output_of<O: DeserializeOwned>(task: types::Task) -> Result<O, RunwayError> {
    let output = serde_json::to_value(task.output.unwrap_or_default());
    let read = output.and_then(serde_json::from_value::<O>);
    read.map_err(|source| RunwayError::InvalidBody {
        status: None,
        body: serde_json::to_vec(&task.id).unwrap_or_default().into(),
        source,
    })
}

impl types::TaskOutput {
    /// The URL of the media the task made (whichever field its operation sets).
    pub fn media_url(&self) -> Option<&str> {
        // Naming every field: a new one in the contract fails to compile here.
        let types::TaskOutput {
            adjusted_speed_video_url,
            audio_url,
            edited_image_url,
            edited_video_url,
            filtered_video_url,
            image_url,
            resized_video_url,
            styled_image_url,
            text_image_url,
            thumbnail_url,
            video_url,
        } = self;
        [
            adjusted_speed_video_url,
            audio_url,
            edited_image_url,
            edited_video_url,
            filtered_video_url,
            image_url,
            resized_video_url,
            styled_image_url,
            text_image_url,
            thumbnail_url,
            video_url,
        ]
        .into_iter()
        .find_map(Option::as_deref)
    }
}

impl Client {
    /// Starts `request` as a task (`create_task`, with an `Idempotency-Key` like
    /// every `POST`); a refused value fails here, before sending, naming its field.
    pub async fn start_task<R: TaskRequest>(
        &self,
        request: R,
    ) -> Result<StartedTask<'_, R::Output>, RunwayError> {
        let body = request.into_task_request()?;
        let task = self.create_task().body(body).send().await?.into_inner();
        Ok(StartedTask {
            client: self,
            task,
            output: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_output_reads_as_its_operation_response() {
        let task: types::Task = serde_json::from_value(serde_json::json!({
            "id": "task_1", "operation": "generate-video", "status": "succeeded",
            "progress": 1.0, "created_at": "2026-01-01T00:00:00Z",
            "output": {"video_url": "https://example.com/videos/v.mp4"}
        }))
        .expect("a task");
        assert_eq!(
            task.output.as_ref().and_then(types::TaskOutput::media_url),
            Some("https://example.com/videos/v.mp4")
        );
        let video: types::GenerateVideoResponse = output_of(task.clone()).expect("reads");
        assert_eq!(video.video_url, "https://example.com/videos/v.mp4");
        let wrong = output_of::<types::ExtractAudioResponse>(task).expect_err("no audio_url");
        assert!(matches!(wrong, RunwayError::InvalidBody { .. }), "{wrong}");
    }

    #[test]
    fn a_builder_refused_before_sending_names_its_field() {
        let err = types::GenerateVideoRequest::builder()
            .prompt("waves")
            .duration(20)
            .into_task_request()
            .expect_err("20 s is refused");
        assert_eq!(err.param(), Some("duration"));
        let ok = types::EditImageRequest::resize("https://example.com/a.jpg")
            .width(320)
            .into_task_request()
            .expect("a task body");
        assert!(matches!(ok, types::CreateTaskRequest::EditImage(_)));
    }
}

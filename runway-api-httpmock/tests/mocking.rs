//! How an SDK user tests their own code offline: mock the operations it calls,
//! run it against the mock server, and check what it sent and what it made of
//! the answers. No Runway server, no network.

use httpmock::MockServer;
use runway_api::{Client, RetryPolicy, RunwayError, types};
use runway_api_httpmock::MockServerExt;

/// The code under test: a user's function that makes a poster frame of a video.
async fn poster_frame(client: &Client, video_url: &str) -> Result<String, RunwayError> {
    let thumbnail = client
        .generate_thumbnail()
        .body(thumbnail_request(video_url)?)
        .send()
        .await?;
    Ok(thumbnail.into_inner().thumbnail_url)
}

fn thumbnail_request(video_url: &str) -> Result<types::GenerateThumbnailRequest, RunwayError> {
    Ok(types::GenerateThumbnailRequest::builder()
        .video_url(video_url.parse::<runway_api::MediaUrl>()?)
        .time_position(2)
        .try_into()?)
}

fn client_for(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.base_url())
        .api_key("test-key")
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client")
}

const VIDEO: &str = "https://media.example/videos/vid_1.mp4";

#[tokio::test]
async fn the_function_sends_the_video_and_the_time_and_returns_the_thumbnail() {
    let server = MockServer::start_async().await;
    let mock = server.generate_thumbnail(|when, then| {
        // Matches only the request the function should make.
        when.body(&thumbnail_request(VIDEO).expect("request"));
        then.ok(&types::GenerateThumbnailResponse {
            thumbnail_url: "https://media.example/images/img_9.jpg".to_owned(),
        });
    });

    let url = poster_frame(&client_for(&server), VIDEO)
        .await
        .expect("thumbnail");

    assert_eq!(url, "https://media.example/images/img_9.jpg");
    mock.assert_async().await; // called once, with that body
}

#[tokio::test]
async fn the_function_reports_the_servers_error() {
    let server = MockServer::start_async().await;
    server.generate_thumbnail(|_, then| {
        then.unprocessable_entity(&types::ErrorResponse {
            error: types::ErrorDetail {
                code: "invalid_parameter".to_owned(),
                message: "time_position is past the end of the video".to_owned(),
                param: Some("time_position".to_owned()),
                request_id: None,
            },
        });
    });

    let err = poster_frame(&client_for(&server), VIDEO)
        .await
        .expect_err("refused");

    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(err.code(), Some("invalid_parameter"));
}

#[tokio::test]
async fn a_task_can_be_mocked_to_its_end() {
    let server = MockServer::start_async().await;
    let task = |status, output: Option<types::TaskOutput>| types::Task {
        id: "task_1".to_owned(),
        operation: types::TaskOperation::GenerateThumbnail,
        status,
        progress: if output.is_some() { 1.0 } else { 0.0 },
        created_at: chrono::Utc::now(),
        started_at: None,
        finished_at: None,
        output,
        error: None,
    };
    let created = server.create_task(|_, then| {
        then.accepted(&task(types::TaskStatus::Pending, None));
    });
    let done = types::TaskOutput {
        thumbnail_url: Some("https://media.example/images/img_2.jpg".to_owned()),
        ..types::TaskOutput::default()
    };
    let read = server.get_task(|when, then| {
        when.task_id(&"task_1".parse().expect("id"));
        then.ok(&task(types::TaskStatus::Succeeded, Some(done)));
    });

    let client = client_for(&server);
    let started = client
        .create_task()
        .body(types::CreateTaskRequest::GenerateThumbnail(
            thumbnail_request(VIDEO).expect("request"),
        ))
        .send()
        .await
        .expect("created")
        .into_inner();
    let finished = client.wait_for_task(&started.id).await.expect("finished");

    assert_eq!(
        finished.output.and_then(|o| o.thumbnail_url).as_deref(),
        Some("https://media.example/images/img_2.jpg")
    );
    created.assert_async().await;
    read.assert_async().await;
}

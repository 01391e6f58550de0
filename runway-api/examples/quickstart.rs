//! Generate an image, give it a sepia filter and save it.
//!
//! ```sh
//! RUNWAY_API_KEY=... RUNWAY_BASE_URL=http://127.0.0.1:8080 \
//!     cargo run -p runway-api --example quickstart -- out.jpg
//! ```

use runway_api::{Client, RunwayError, types};

#[tokio::main]
async fn main() -> Result<(), RunwayError> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "quickstart.jpg".into());
    let client = Client::from_env()?;

    let generated = client
        .generate_image()
        .body_map(|b| {
            b.prompt("a lighthouse on a cliff at dusk")
                .style(types::ImageStyle::Photorealistic)
        })
        .send()
        .await?;
    println!("generated {}", generated.image_url);

    let edited = client
        .edit_image()
        .body(types::EditImageRequest::add_filter(
            &generated.image_url,
            types::ImageFilter::Sepia,
        ))
        .send()
        .await?;
    println!("edited    {}", edited.edited_image_url);

    let bytes = client
        .download_to_file(&edited.edited_image_url, &target)
        .await?;
    println!("saved     {target} ({bytes} bytes)");
    Ok(())
}

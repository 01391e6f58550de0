//! Image operations through the SDK against a real server: the outputs are decoded
//! and their pixels checked.

mod common;

use common::*;
use runway_api::types;

#[tokio::test]
async fn generated_images_have_the_requested_size_and_style() {
    let t = TestServer::start().await;
    let client = t.client();
    let photo_url = generate_image(
        &client,
        "a lighthouse",
        types::ImageStyle::Photorealistic,
        320,
        200,
    )
    .await;
    let photo = fetch_image(&client, &photo_url).await;
    assert_eq!(photo.dimensions(), (320, 200));

    // Deterministic: the same prompt and style give the same pixels.
    let again = fetch_image(
        &client,
        &generate_image(
            &client,
            "a lighthouse",
            types::ImageStyle::Photorealistic,
            320,
            200,
        )
        .await,
    )
    .await;
    assert_eq!(photo, again);

    // Another prompt gives another image.
    let other = fetch_image(
        &client,
        &generate_image(
            &client,
            "a desert at noon",
            types::ImageStyle::Photorealistic,
            320,
            200,
        )
        .await,
    )
    .await;
    let differing = photo
        .pixels()
        .zip(other.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    assert!(differing > 320 * 200 / 4, "only {differing} pixels differ");

    // Styles look clearly different: sketch is pale paper with little colour,
    // abstract is strongly saturated.
    let sketch = fetch_image(
        &client,
        &generate_image(&client, "a lighthouse", types::ImageStyle::Sketch, 320, 200).await,
    )
    .await;
    let abstract_image = fetch_image(
        &client,
        &generate_image(
            &client,
            "a lighthouse",
            types::ImageStyle::Abstract,
            320,
            200,
        )
        .await,
    )
    .await;
    assert!(
        mean_saturation(&sketch) < 0.12,
        "sketch saturation {}",
        mean_saturation(&sketch)
    );
    assert!(
        mean_luma(&sketch) > 180.0,
        "sketch luma {}",
        mean_luma(&sketch)
    );
    assert!(
        mean_saturation(&abstract_image) > 0.5,
        "abstract saturation {}",
        mean_saturation(&abstract_image)
    );
    assert!(mean_saturation(&photo) > mean_saturation(&sketch));
    assert!(mean_saturation(&photo) < mean_saturation(&abstract_image));
}

#[tokio::test]
async fn edits_really_change_the_pixels() {
    let t = TestServer::start().await;
    let client = t.client();
    let source_url =
        generate_image(&client, "a red barn", types::ImageStyle::Abstract, 300, 200).await;
    let source = fetch_image(&client, &source_url).await;

    let edit = |body: types::EditImageRequest| {
        let client = client.clone();
        async move {
            let url = client
                .edit_image()
                .body(body)
                .send()
                .await
                .expect("edit-image")
                .into_inner()
                .edited_image_url;
            fetch_image(&client, &url).await
        }
    };
    let image_url: runway_api::MediaUrl = source_url.parse().expect("a media URL");
    let request = |built: Result<types::EditImageRequest, _>| built.expect("a valid edit");
    let filter =
        |filter| request(types::EditImageRequest::add_filter(&image_url, filter).try_into());
    let resize = |width: u32, height: Option<u32>| {
        let resize = types::EditImageRequest::resize(&image_url).width(width);
        request(match height {
            Some(height) => resize.height(height).try_into(),
            None => resize.try_into(),
        })
    };
    let adjust = |brightness: f64, saturation: f64| {
        request(
            types::EditImageRequest::color_adjust(&image_url)
                .brightness(brightness)
                .saturation(saturation)
                .try_into(),
        )
    };

    let sepia = edit(filter(types::ImageFilter::Sepia)).await;
    assert_eq!(sepia.dimensions(), (300, 200));
    let warm = sepia
        .pixels()
        .filter(|p| p[0] as i32 + 4 >= p[1] as i32 && p[1] as i32 + 4 >= p[2] as i32)
        .count();
    assert!(
        warm > 300 * 200 * 95 / 100,
        "sepia must make r >= g >= b, {warm} pixels are"
    );
    assert!(mean_saturation(&source) > 0.5);

    let grey = edit(filter(types::ImageFilter::BlackAndWhite)).await;
    assert!(
        max_channel_spread(&grey) <= 6,
        "black-and-white spread {}",
        max_channel_spread(&grey)
    );

    let inverted = edit(filter(types::ImageFilter::Invert)).await;
    let (m, i) = (channel_means(&source), channel_means(&inverted));
    for c in 0..3 {
        assert!(
            (m[c] + i[c] - 255.0).abs() < 8.0,
            "invert channel {c}: {} + {}",
            m[c],
            i[c]
        );
    }

    let resized = edit(resize(150, None)).await;
    assert_eq!(
        resized.dimensions(),
        (150, 100),
        "one side keeps the aspect ratio"
    );
    let exact = edit(resize(320, Some(200))).await;
    assert_eq!(exact.dimensions(), (320, 200));

    let brighter = edit(adjust(0.3, 0.0)).await;
    assert!(mean_luma(&brighter) > mean_luma(&source) + 40.0);
    let desaturated = edit(adjust(0.0, -1.0)).await;
    assert!(mean_saturation(&desaturated) < 0.05);
}

#[tokio::test]
async fn edits_with_nothing_to_change_give_an_unchanged_copy() {
    let t = TestServer::start().await;
    let client = t.client();
    let source_url = generate_image(
        &client,
        "a quiet lake",
        types::ImageStyle::Abstract,
        240,
        160,
    )
    .await;
    let source = fetch_image(&client, &source_url).await;
    let image_url: runway_api::MediaUrl = source_url.parse().expect("a media URL");
    let copies: [types::EditImageRequest; 2] = [
        types::EditImageRequest::resize(&image_url)
            .try_into()
            .expect("a request"),
        types::EditImageRequest::color_adjust(&image_url)
            .try_into()
            .expect("a request"),
    ];
    for body in copies {
        let url = client
            .edit_image()
            .body(body)
            .send()
            .await
            .expect("edit-image")
            .into_inner()
            .edited_image_url;
        assert_ne!(url, source_url, "the result is a new media");
        let copy = fetch_image(&client, &url).await;
        assert_eq!(copy.dimensions(), (240, 160));
        let (m, c) = (channel_means(&source), channel_means(&copy));
        for channel in 0..3 {
            assert!(
                (m[channel] - c[channel]).abs() < 2.0,
                "channel {channel}: {} vs {}",
                m[channel],
                c[channel]
            );
        }
    }
}

#[tokio::test]
async fn text_is_drawn_where_asked() {
    let t = TestServer::start().await;
    let client = t.client();
    let source_url = generate_image(
        &client,
        "night sky",
        types::ImageStyle::Photorealistic,
        400,
        300,
    )
    .await;
    let source = fetch_image(&client, &source_url).await;
    let url = client
        .add_text_to_image()
        .body_map(|b| {
            b.image_url(source_url.as_str())
                .text("Hello, Runway — ünïcödé 😀 and a line long enough to wrap")
                .position(types::TextPosition::BottomRight)
                .font_size(28)
        })
        .send()
        .await
        .expect("add-text-to-image")
        .into_inner()
        .text_image_url;
    let with_text = fetch_image(&client, &url).await;
    assert_eq!(with_text.dimensions(), (400, 300));
    let changed = |x0: u32, y0: u32, x1: u32, y1: u32| {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let (a, b) = (source.get_pixel(x, y), with_text.get_pixel(x, y));
                a.0.iter().zip(b.0.iter()).any(|(p, q)| p.abs_diff(*q) > 40)
            })
            .count()
    };
    assert!(
        changed(0, 150, 400, 300) > 2000,
        "the bottom half holds the text"
    );
    assert_eq!(changed(0, 0, 400, 100), 0, "the top stays untouched");
    let white = (150..300)
        .flat_map(|y| (0..400).map(move |x| (x, y)))
        .filter(|&(x, y)| with_text.get_pixel(x, y).0.iter().all(|&c| c > 230))
        .count();
    let black = (150..300)
        .flat_map(|y| (0..400).map(move |x| (x, y)))
        .filter(|&(x, y)| with_text.get_pixel(x, y).0.iter().all(|&c| c < 30))
        .count();
    assert!(
        white > 300 && black > 300,
        "white text ({white}) with a dark outline ({black})"
    );
}

/// `image` as a `data:` URI of a PNG.
fn png_data_uri(image: &image::RgbImage) -> String {
    use base64::Engine;
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png.into_inner())
    )
}

/// The mean absolute difference of neighbouring pixels' luminance: how much
/// fine detail (texture, edges) a picture has.
fn detail(image: &image::RgbImage) -> f64 {
    let luma = |x, y| {
        let p = image.get_pixel(x, y);
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let (w, h) = image.dimensions();
    let mut total = 0.0;
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            total += (luma(x + 1, y) - luma(x, y)).abs() + (luma(x, y + 1) - luma(x, y)).abs();
        }
    }
    total / f64::from((w - 1) * (h - 1))
}

#[tokio::test]
async fn style_transfer_paints_the_references_texture_at_the_contents_size() {
    let t = TestServer::start().await;
    let client = t.client();
    let content = image::RgbImage::from_fn(800, 500, |x, y| {
        image::Rgb([(x * 255 / 800) as u8, 140, (y * 255 / 500) as u8])
    });
    let stripes = image::RgbImage::from_fn(200, 200, |x, y| {
        if ((x + y) / 10) % 2 == 0 {
            image::Rgb([25, 25, 90])
        } else {
            image::Rgb([240, 200, 40])
        }
    });
    let styled_with = |strength: f64| {
        let client = client.clone();
        let (content, stripes) = (png_data_uri(&content), png_data_uri(&stripes));
        async move {
            client
                .style_transfer()
                .body_map(|b| {
                    b.image_url(content.as_str())
                        .style_reference(stripes.as_str())
                        .strength(strength)
                })
                .send()
                .await
                .expect("style-transfer")
                .into_inner()
                .styled_image_url
        }
    };
    let styled = fetch_image(&client, &styled_with(1.0).await).await;
    assert_eq!(styled.dimensions(), (800, 500), "the content's own size");
    let (before, after) = (detail(&content), detail(&styled));
    assert!(
        after > 4.0 * before,
        "the stripes' texture is painted in: fine detail {before:.2} -> {after:.2}"
    );
    let half = fetch_image(&client, &styled_with(0.5).await).await;
    let between = detail(&half);
    assert!(
        between > before && between < after,
        "strength 0.5 lies between: {before:.2} < {between:.2} < {after:.2}"
    );
}

#[tokio::test]
async fn image_metadata_reads_the_stored_file() {
    let t = TestServer::start().await;
    let client = t.client();
    let url = generate_image(&client, "a fox", types::ImageStyle::Sketch, 320, 200).await;
    let bytes = fetch(&client, &url).await;
    let meta = client
        .get_image_metadata()
        .image_url(url.as_str())
        .send()
        .await
        .expect("image-metadata")
        .into_inner();
    assert_eq!((meta.width.get(), meta.height.get()), (320, 200));
    assert_eq!(meta.size_bytes, Some(bytes.len() as i64));
    assert!(url.contains(&meta.image_id));
    assert!(
        meta.size.ends_with("KB") || meta.size.ends_with('B'),
        "{}",
        meta.size
    );
    let age = chrono::Utc::now() - meta.created_at;
    assert!(
        age.num_seconds().abs() < 60,
        "created_at {}",
        meta.created_at
    );
}

#[tokio::test]
async fn a_seed_makes_a_picture_repeatable_and_another_seed_another() {
    let t = TestServer::start().await;
    let client = t.client();
    let make = |seed: Option<i32>| {
        let client = client.clone();
        async move {
            let url = client
                .generate_image()
                .body_map(|b| {
                    let b = b
                        .prompt("a harbour at dawn")
                        .style(types::ImageStyle::Abstract)
                        .width(320)
                        .height(200)
                        .negative_prompt(types::NegativePrompt::try_from("text, watermark").ok());
                    match seed {
                        Some(seed) => b.seed(seed),
                        None => b,
                    }
                })
                .send()
                .await
                .expect("generate-image")
                .into_inner()
                .image_url;
            fetch_image(&client, &url).await
        }
    };
    let first = make(Some(7)).await;
    assert_eq!(first.dimensions(), (320, 200));
    assert_eq!(
        make(Some(7)).await,
        first,
        "the same seed, the same picture"
    );
    let other = make(Some(8)).await;
    assert_ne!(other, first, "another seed, another picture");
    // Without a seed: the prompt's own picture, as before seeds existed.
    let plain = fetch_image(
        &client,
        &generate_image(
            &client,
            "a harbour at dawn",
            types::ImageStyle::Abstract,
            320,
            200,
        )
        .await,
    )
    .await;
    assert_eq!(make(None).await, plain);
    assert_ne!(plain, first);
    // Out of bounds, refused before sending.
    let refused = client
        .generate_image()
        .body_map(|b| b.prompt("x").seed(-1))
        .send()
        .await;
    assert!(refused.is_err());
}

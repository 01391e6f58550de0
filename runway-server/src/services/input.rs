//! Media inputs: the server's own media URLs (read from storage, never fetched),
//! `data:` URIs, and http(s) URLs of other hosts (fetched through [`Fetcher`]).

use std::borrow::Cow;

use bytes::Bytes;
use reqwest::Url;

use crate::domain::Error;
use crate::domain::media::{MediaKind, MediaRecord, parse_file_name};
use crate::services::App;
use crate::storage::StoreError;

/// Where a media URL points.
pub enum Source<'a> {
    /// Media of this server: its kind and id.
    Stored(MediaKind, Cow<'a, str>),
    /// Bytes in a `data:` URI.
    Data,
    /// Another host.
    Remote(Url),
}

/// A media input, located.
pub(crate) enum Resolved {
    /// Media this server stored.
    Stored(MediaRecord),
    /// The bytes of a `data:` URI.
    Data(Bytes),
    /// Another host's URL, which this server may fetch.
    Remote(Url),
}

/// The kind and id in a media path `/images/{id}.jpg`, `/videos/...`, `/audios/...`.
pub fn parse_media_path(path: &str) -> Option<(MediaKind, &str)> {
    let rest = path.strip_prefix('/')?;
    let (folder, file) = rest.split_once('/')?;
    let kind = MediaKind::from_folder(folder)?;
    Some((kind, parse_file_name(kind, file)?))
}

/// The longest media URL a query parameter takes (`image_url`, `media_url`...).
const MAX_URL_PARAMETER: usize = 2048;

impl App {
    /// Classifies a media URL given in parameter `param`.
    pub fn classify<'a>(&self, url: &'a str, param: &str) -> Result<Source<'a>, Error> {
        if url
            .get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
        {
            return Ok(Source::Data);
        }
        if let Some(rest) = url.strip_prefix(self.public_url.as_str())
            && let Some((kind, id)) = parse_media_path(rest)
        {
            return Ok(Source::Stored(kind, Cow::Borrowed(id)));
        }
        let parsed = Url::parse(url)
            .map_err(|e| Error::invalid(param, format!("{param} is not a valid URL: {e}")))?;
        if parsed.origin() != self.public_origin {
            return Ok(Source::Remote(parsed));
        }
        // Our own origin, written differently from `public_url` (dot segments, a
        // query, a fragment, an explicit default port): the normalised path decides.
        match parse_media_path(parsed.path()) {
            Some((kind, id)) => Ok(Source::Stored(kind, Cow::Owned(id.to_owned()))),
            None => Err(Error::media_not_found(param)),
        }
    }

    /// The record of stored media addressed by `url` (metadata and delete take
    /// stored media only); 404 otherwise.
    pub async fn stored_record(&self, url: &str, param: &str) -> Result<MediaRecord, Error> {
        // The contract's bounds on a media URL query parameter.
        if url.is_empty() || url.len() > MAX_URL_PARAMETER {
            return Err(Error::invalid(
                param,
                format!("{param} must be a URL of 1 to {MAX_URL_PARAMETER} characters"),
            ));
        }
        let Source::Stored(kind, id) = self.classify(url, param)? else {
            return Err(Error::media_not_found(param));
        };
        self.stored_media(kind, &id)
            .await?
            .ok_or_else(|| Error::media_not_found(param))
    }

    /// Where the media at `url` is: stored media (its record), a `data:` URI's
    /// bytes, or another host's URL (allowed to be fetched).
    pub(crate) async fn resolve_input(&self, url: &str, param: &str) -> Result<Resolved, Error> {
        match self.classify(url, param)? {
            Source::Stored(kind, id) => {
                let record = self
                    .stored_media(kind, &id)
                    .await?
                    .ok_or_else(|| Error::media_not_found(param))?;
                Ok(Resolved::Stored(record))
            }
            Source::Data => Ok(Resolved::Data(self.decode_data_uri(url, param)?)),
            Source::Remote(_) if self.config.no_remote_fetch => Err(Error::unreachable(
                param,
                format!(
                    "{param}: this server does not fetch media from other hosts; upload the file or send a data: URI"
                ),
            )),
            Source::Remote(parsed) => Ok(Resolved::Remote(parsed)),
        }
    }

    /// The bytes of a located media input (images: small, decoded whole anyway).
    pub(crate) async fn read_input(&self, input: Resolved, param: &str) -> Result<Bytes, Error> {
        match input {
            Resolved::Stored(record) => self
                .store
                .read(&record)
                .await
                .map_err(|err| stored_media_error(err, param)),
            Resolved::Data(bytes) => Ok(bytes),
            Resolved::Remote(url) => self
                .fetcher
                .fetch(&url)
                .await
                .map_err(|err| err.for_input(param)),
        }
    }

    fn decode_data_uri(&self, url: &str, param: &str) -> Result<Bytes, Error> {
        let data = data_url::DataUrl::process(url).map_err(|e| {
            Error::bad_request(format!("{param} is not a valid data: URI: {e:?}")).with_param(param)
        })?;
        let (body, _) = data.decode_to_vec().map_err(|e| {
            Error::bad_request(format!("{param} has an invalid base64 payload: {e:?}"))
                .with_param(param)
        })?;
        if body.len() > self.config.max_input_bytes {
            return Err(Error::too_large(format!(
                "the media in {param} is over the limit of {} bytes",
                self.config.max_input_bytes
            ))
            .with_param(param));
        }
        Ok(body.into())
    }
}

/// An error reading stored media given as `param`: deleted since its record was
/// read, it is 404 as if it had never been there.
pub(crate) fn stored_media_error(err: StoreError, param: &str) -> Error {
    if err.is_not_found() {
        Error::media_not_found(param)
    } else {
        err.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uri_detection_never_splits_a_character() {
        for url in ["󌲯򤷑ß8«", "dată:", "da", "", "DATA:,x", "ñdata:x"] {
            let is_data = url
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("data:"));
            assert_eq!(
                is_data,
                url.to_ascii_lowercase().starts_with("data:"),
                "{url}"
            );
        }
    }

    #[test]
    fn media_paths_parse() {
        assert!(matches!(
            parse_media_path("/images/img_1.jpg"),
            Some((MediaKind::Image, "img_1"))
        ));
        assert!(matches!(
            parse_media_path("/audios/a.mp3"),
            Some((MediaKind::Audio, "a"))
        ));
        assert!(parse_media_path("/images/../x.jpg").is_none());
        assert!(parse_media_path("/images/x.mp4").is_none());
        assert!(parse_media_path("/other/x.jpg").is_none());
    }
}

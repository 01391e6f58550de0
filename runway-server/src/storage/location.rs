//! Where media and records are kept (`--storage`): a directory, or an S3 bucket
//! set up from the `AWS_*` variables and checked at start.

use super::*;

/// Where media and records are kept: `--storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// A directory on this machine (one server owns it).
    Local(PathBuf),
    /// A bucket of an S3-compatible store, shared by every replica.
    S3 {
        /// The bucket name.
        bucket: String,
        /// A folder inside the bucket, without slashes at its ends.
        prefix: Option<String>,
    },
}

impl StorageLocation {
    /// Reads `--storage`: `s3://bucket[/prefix]`, or anything else as a directory.
    pub fn parse(value: &str) -> Result<Self, StoreError> {
        let Some(rest) = value.strip_prefix("s3://") else {
            if value.contains("://") || value.is_empty() {
                return Err(StoreError::Location(value.to_owned()));
            }
            return Ok(Self::Local(PathBuf::from(value)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(StoreError::Location(value.to_owned()));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
        })
    }

    /// Whether several servers may share it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::S3 { .. })
    }
}

impl std::fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "{}", dir.display()),
            Self::S3 {
                bucket,
                prefix: None,
            } => write!(f, "s3://{bucket}"),
            Self::S3 {
                bucket,
                prefix: Some(prefix),
            } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Requests to the bucket are retried a few times within this long, then fail
/// (a client's retry, or the SDK's, takes over from there).
const S3_RETRY: RetryConfig = RetryConfig {
    backoff: BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
    },
    max_retries: 3,
    retry_timeout: Duration::from_secs(30),
};

impl MediaStore {
    pub(super) fn open_s3(
        location: &StorageLocation,
        bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Self, StoreError> {
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(S3_RETRY)
            .build()
            .map_err(|err| StoreError::Unusable {
                location: location.to_string(),
                reason: format!("the S3 settings are not usable: {err}"),
            })?;
        let s3 = Arc::new(s3);
        let prefix = prefix.map(Path::from);
        let store: Arc<dyn ObjectStore> = match &prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3.clone(), prefix.clone())),
            None => s3.clone(),
        };
        Ok(Self {
            store,
            backend: Arc::new(Backend::S3 { s3, prefix }),
            location: Arc::new(location.clone()),
            media_ttl: None,
            space_needed: Arc::default(),
        })
    }

    /// Writes and removes a probe; a failure says what an operator should fix.
    pub(super) async fn check_bucket(&self) -> Result<(), StoreError> {
        self.check_writable()
            .await
            .map_err(|err| StoreError::Unusable {
                location: self.location.to_string(),
                reason: explain_s3_error(&err),
            })
    }

    /// A URL of the bucket that lets anyone `GET` this media for `expires_in`;
    /// `None` when the store is not a bucket.
    pub async fn presigned_url(
        &self,
        record: &MediaRecord,
        expires_in: Duration,
    ) -> Result<Option<url::Url>, StoreError> {
        let Backend::S3 { s3, prefix } = self.backend.as_ref() else {
            return Ok(None);
        };
        let path = media_path_of(record);
        let path = match prefix {
            Some(prefix) => prefix.parts().chain(path.parts()).collect(),
            None => path,
        };
        Ok(Some(
            s3.signed_url(reqwest::Method::GET, &path, expires_in)
                .await?,
        ))
    }
}

/// What an operator should fix when the bucket cannot be used.
fn explain_s3_error(err: &StoreError) -> String {
    let StoreError::ObjectStore(err) = err else {
        return err.to_string();
    };
    let unreachable = {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        let mut found = false;
        while let Some(e) = source {
            if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
                found |= matches!(
                    http.kind(),
                    HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Request
                );
            }
            source = e.source();
        }
        found
    };
    match err {
        object_store::Error::NotFound { .. } => {
            "the bucket does not exist: create it, or check the name and AWS_ENDPOINT_URL"
                .to_owned()
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => format!(
            "the credentials were refused: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION ({err})"
        ),
        _ if unreachable => format!(
            "the endpoint cannot be reached: check AWS_ENDPOINT_URL (and AWS_ALLOW_HTTP for http://) ({err})"
        ),
        _ => format!("the bucket refused a test write: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn storage_locations_are_directories_or_buckets() {
        assert_eq!(
            StorageLocation::parse("/var/lib/runway").expect("dir"),
            StorageLocation::Local(PathBuf::from("/var/lib/runway"))
        );
        assert_eq!(
            StorageLocation::parse("s3://media-bucket").expect("bucket"),
            StorageLocation::S3 {
                bucket: "media-bucket".to_owned(),
                prefix: None
            }
        );
        let prefixed = StorageLocation::parse("s3://media-bucket/prod/runway/").expect("prefix");
        assert_eq!(prefixed.to_string(), "s3://media-bucket/prod/runway");
        assert!(prefixed.is_shared());
        for bad in [
            "",
            "gs://bucket",
            "s3://",
            "s3://UPPER",
            "s3://a",
            "s3://no_underscore",
        ] {
            assert!(StorageLocation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    pub(super) fn bucket_errors_say_what_to_fix() {
        let source = || -> Box<dyn std::error::Error + Send + Sync> { "HTTP 403".into() };
        let denied = StoreError::ObjectStore(object_store::Error::PermissionDenied {
            path: "health/probe".to_owned(),
            source: source(),
        });
        assert!(explain_s3_error(&denied).contains("credentials were refused"));
        let missing = StoreError::ObjectStore(object_store::Error::NotFound {
            path: "health/probe".to_owned(),
            source: source(),
        });
        assert!(explain_s3_error(&missing).contains("bucket does not exist"));
    }
}

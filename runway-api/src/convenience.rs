//! Small conveniences over the generated operations.

use progenitor_client::ClientInfo;

use crate::{Client, RunwayError, types};

impl Client {
    /// Deletes media this client's key created: `delete_media` with `auth_token` set
    /// to the client's own API key, as the contract asks of the owner.
    pub async fn delete_own_media(
        &self,
        media_url: &str,
    ) -> Result<types::DeleteMediaResponse, RunwayError> {
        let key = self.inner().api_key().ok_or_else(|| {
            RunwayError::Config("deleting media needs an API key on the client".to_owned())
        })?;
        Ok(self
            .delete_media()
            .media_url(media_url)
            .auth_token(key.expose())
            .send()
            .await?
            .into_inner())
    }
}

//! The `ClientHooks` implementation that the generated client requires: every
//! operation goes through [`retry::execute`](crate::retry), which adds the key,
//! retries and traces.

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

use crate::{Client, Config};

impl ClientHooks<Config> for Client {
    /// The retrying send itself (no further future around it).
    fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> {
        crate::retry::execute(
            self.client(),
            self.inner(),
            request,
            info.operation_id,
            true,
        )
    }
}

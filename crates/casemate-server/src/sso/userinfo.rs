//! The provider's userinfo endpoint (OpenID Connect Core §5.3), asked for the groups claim when
//! the ID token leaves it out, as providers that keep their ID tokens small do.

use super::provider::Provider;
use super::service::refused;
use crate::error::Result;
use casemate_types::Sensitive;
use serde_json::{Map, Value};

impl Provider {
    /// The userinfo endpoint's claims for `access_token`; refused unless they are `subject`'s,
    /// the ID token's (§5.3.2: otherwise they must not be used).
    pub(crate) async fn userinfo(
        &self,
        endpoint: &url::Url,
        access_token: &Sensitive,
        subject: &str,
    ) -> Result<Map<String, Value>> {
        let request = self
            .http
            .get(endpoint.clone())
            .bearer_auth(access_token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        // A signed or encrypted answer (application/jwt) is not JSON: it fails here, loudly.
        let claims: Map<String, Value> = self.json_answer("userinfo endpoint", request).await?;
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if sub == subject => Ok(claims),
            _ => Err(refused(
                "the userinfo endpoint's sub is not the ID token's subject",
            )),
        }
    }
}

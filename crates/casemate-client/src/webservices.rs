//! Web services: deploy, manage, score with the service's key or token, read the scoring log.

use super::runs::ws_path;
use super::{Client, ClientResult, RawResponse};
use casemate_types::Sensitive;
use casemate_types::wire::{
    CreateServiceRequest, RegenerateKeyRequest, ScoringLog, ServiceConsole, ServiceKeys,
    ServiceToken, UpdateServiceRequest, WebService,
};
use reqwest::Method;

impl Client {
    pub async fn create_service(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        request: &CreateServiceRequest,
    ) -> ClientResult<WebService> {
        self.send_json(
            Method::PUT,
            &ws_path(rg, ws, &["services", name]),
            &[],
            request,
        )
        .await
    }

    pub async fn update_service(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        request: &UpdateServiceRequest,
    ) -> ClientResult<WebService> {
        self.send_json(
            Method::PATCH,
            &ws_path(rg, ws, &["services", name]),
            &[],
            request,
        )
        .await
    }

    pub async fn list_services(&self, rg: &str, ws: &str) -> ClientResult<Vec<WebService>> {
        self.get(&ws_path(rg, ws, &["services"])).await
    }

    pub async fn get_service(&self, rg: &str, ws: &str, name: &str) -> ClientResult<WebService> {
        self.get(&ws_path(rg, ws, &["services", name])).await
    }

    pub async fn delete_service(&self, rg: &str, ws: &str, name: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &ws_path(rg, ws, &["services", name]), None)
            .await
    }

    pub async fn list_service_keys(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> ClientResult<ServiceKeys> {
        self.post_empty(&ws_path(rg, ws, &["services", name, "listkeys"]))
            .await
    }

    /// `key_type` is `primary` or `secondary`.
    pub async fn regenerate_service_key(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        key_type: &str,
    ) -> ClientResult<ServiceKeys> {
        self.post(
            &ws_path(rg, ws, &["services", name, "regenerateKeys"]),
            &RegenerateKeyRequest {
                key_type: key_type.to_owned(),
            },
        )
        .await
    }

    pub async fn service_token(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> ClientResult<ServiceToken> {
        self.post_empty(&ws_path(rg, ws, &["services", name, "token"]))
            .await
    }

    /// `since` is a span such as `1h`; `None` takes the server's default (24h).
    pub async fn scoring_log(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        since: Option<&str>,
    ) -> ClientResult<ScoringLog> {
        let query: Vec<(&str, &str)> = since.map(|s| ("since", s)).into_iter().collect();
        self.get_query(&ws_path(rg, ws, &["services", name, "logs"]), &query)
            .await
    }

    pub async fn service_console(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> ClientResult<ServiceConsole> {
        self.get(&ws_path(rg, ws, &["services", name, "console"]))
            .await
    }

    /// Posts `body` to the service's scoring route with `credential` (its key or a service
    /// token) instead of this client's own credential, and returns the answer as it came.
    pub async fn score(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        credential: Option<&Sensitive>,
        body: Vec<u8>,
    ) -> ClientResult<RawResponse> {
        let url = self.url(&ws_path(rg, ws, &["services", name, "score"]))?;
        let mut builder = self
            .http
            .request(Method::POST, url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(credential) = credential {
            builder = builder.bearer_auth(credential.expose());
        }
        Self::send(builder).await
    }
}

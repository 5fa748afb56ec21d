//! Metrics: a workspace's counts over time, and the installation's Prometheus scrape.

use super::{Client, ClientResult};
use casemate_types::wire::WorkspaceMetrics;
use reqwest::Method;

impl Client {
    /// `since` and `interval` are spans such as `24h` and `1h`; `None` takes the server's default.
    pub async fn workspace_metrics(
        &self,
        rg: &str,
        ws: &str,
        since: Option<&str>,
        interval: Option<&str>,
    ) -> ClientResult<WorkspaceMetrics> {
        let mut query = Vec::new();
        if let Some(since) = since {
            query.push(("since", since));
        }
        if let Some(interval) = interval {
            query.push(("interval", interval));
        }
        self.get_query(&["resourceGroups", rg, "workspaces", ws, "metrics"], &query)
            .await
    }

    /// The Prometheus text exposition of `/metrics`.
    pub async fn scrape_metrics(&self) -> ClientResult<String> {
        let response = Self::send(self.request(Method::GET, self.url(&["metrics"])?)).await?;
        Self::check(&response)?;
        Ok(String::from_utf8_lossy(&response.body).into_owned())
    }
}

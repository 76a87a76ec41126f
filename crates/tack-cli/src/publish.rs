//! `tack publish URL CHANNEL MESSAGE`: one item through the server's `/publish/`; and the
//! [`Publisher`] that `tack replay` sends its items through, so both speak to a server alike.

use crate::error::CliError;
use tack_protocol::publish::{Item, PublishBody};

pub async fn run(
    url: &str,
    channel: &str,
    message: &str,
    token: Option<&str>,
) -> Result<(), CliError> {
    Publisher::new(url, token)?
        .send(vec![Item::text_everywhere(channel, message)])
        .await
}

/// Posts items to one server's `/publish/` (its control address, or Pushpin's publish port).
pub struct Publisher {
    client: reqwest::Client,
    /// As the user typed it, for messages.
    url: String,
    target: url::Url,
    token: Option<String>,
}

impl Publisher {
    pub fn new(url: &str, token: Option<&str>) -> Result<Publisher, CliError> {
        let base = crate::base_url(url)?;
        let target = base
            .join("publish/")
            .map_err(|e| CliError::BadUrl(format!("bad URL {url}: {e}")))?;
        Ok(Publisher {
            client: reqwest::Client::new(),
            url: url.to_owned(),
            target,
            token: token.map(str::to_owned),
        })
    }

    /// Publishes `items` in one request; the server takes them in order.
    pub async fn send(&self, items: Vec<Item>) -> Result<(), CliError> {
        let url = &self.url;
        let body = PublishBody { items };
        let mut req = self
            .client
            .post(self.target.clone())
            .header("content-type", "application/json")
            .body(body.to_json());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| CliError::Unreachable {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 => Ok(()),
            401 | 403 => Err(CliError::Refused {
                url: url.to_owned(),
                reason: format!("HTTP {status}: {}", text.trim()),
            }),
            // A client address given where the control address belongs: say where publishing is.
            404 => Err(CliError::Rejected(format!(
                "HTTP {status} from {url}: publishing goes to the server's control address (tack serve --control-listen, http://127.0.0.1:7998 by default), not the one clients connect to"
            ))),
            _ => Err(CliError::Rejected(format!(
                "HTTP {status}: {}",
                text.trim()
            ))),
        }
    }
}

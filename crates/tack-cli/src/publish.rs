//! `tack publish URL CHANNEL MESSAGE`: one item through the server's `/publish/`.

use crate::error::CliError;
use tack_protocol::publish::{Item, PublishBody};

pub async fn run(
    url: &str,
    channel: &str,
    message: &str,
    token: Option<&str>,
) -> Result<(), CliError> {
    let base = crate::base_url(url)?;
    let target = base
        .join("publish/")
        .map_err(|e| CliError::BadUrl(format!("bad URL {url}: {e}")))?;
    let body = PublishBody {
        items: vec![Item::text_everywhere(channel, message)],
    };
    let mut req = reqwest::Client::new()
        .post(target)
        .header("content-type", "application/json")
        .body(body.to_json());
    if let Some(t) = token {
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

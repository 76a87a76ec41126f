//! HTTP streaming (Server-Sent Events): `GET /stream` read chunk by chunk; sends via `/send`.

use super::Dial;
use crate::error::LinkError;
use crate::link::Link;

pub async fn open(_dial: &Dial) -> Result<Link, LinkError> {
    // TODO: waits for tack_protocol::sse's parser.
    Err(LinkError::Other("HTTP streaming is not available yet".into()))
}

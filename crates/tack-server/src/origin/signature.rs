//! `Grip-Sig`: only requests that came through a Pushpin holding the shared key get in.
//!
//! In origin mode the client-facing paths trust what Pushpin says (`Connection-Id`,
//! `Grip-Last`), so a request that could bypass Pushpin could act as any connection. Every
//! such request must carry a valid signature; anything else is refused with 401.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tack_protocol::grip::{verify_sig, SIG_HEADER};

/// Checks `Grip-Sig` against `key`; the refusal names what was wrong.
pub fn check(headers: &HeaderMap, key: &[u8]) -> Result<(), Response> {
    let refuse = |why: String| {
        (
            StatusCode::UNAUTHORIZED,
            format!("{why}: this origin only answers requests signed by its Pushpin (Grip-Sig); connect through Pushpin\n"),
        )
            .into_response()
    };
    let Some(token) = headers.get(SIG_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(refuse("no Grip-Sig header".into()));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    verify_sig(token, key, None, now)
        .map(|_| ())
        .map_err(|e| refuse(e.to_string()))
}

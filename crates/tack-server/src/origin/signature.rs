//! `Grip-Sig`: only requests that came through a Pushpin holding the shared key get in.
//!
//! In origin mode the client-facing paths trust what Pushpin says (`Connection-Id`,
//! `Grip-Last`), so a request that could bypass Pushpin could act as any connection. Every
//! such request must carry a valid signature — the shared key, issuer `pushpin` (Pushpin's
//! default `sig_iss`), not expired and not valid for longer than Pushpin signs for — anything
//! else is refused with 401.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tack_protocol::grip::{verify_sig, PUSHPIN_ISS, SIG_HEADER};

/// Checks `Grip-Sig` against `key`; the error says what was wrong.
pub fn verify(headers: &HeaderMap, key: &[u8]) -> Result<(), String> {
    let Some(token) = headers.get(SIG_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err("no Grip-Sig header".into());
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    verify_sig(token, key, Some(PUSHPIN_ISS), now)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The 401 for a request that did not come through Pushpin.
pub fn refusal(why: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        format!("{why}: this origin only answers requests signed by its Pushpin (Grip-Sig); connect through Pushpin\n"),
    )
        .into_response()
}

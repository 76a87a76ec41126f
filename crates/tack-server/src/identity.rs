//! Signed identity (opt-in): a JWT says who a client is and what it may do.
//!
//! With `auth_key` (HS256) or `auth_public_key` (RS256 or ES256, a PEM file) set, a client
//! presents a token — `hello{token}`, `Authorization: Bearer` on the WebSocket upgrade or an
//! HTTP request, or `?token=` for a browser's EventSource, which cannot set headers. Its `name`
//! (or else `sub`) is the client's nick, which nobody else can hold; an optional `tack` claim
//! lists, as globs, the rooms it may enter, the channels it may watch and the rooms it may write
//! to; `exp` is enforced. Anonymous clients are refused unless `allow_anonymous` is set, and
//! then keep the guest nick they were given.
//!
//! The JWT part is tack-server's `signed-identity` feature (on in `tack serve`); a build without
//! it refuses a configured key at start instead of ignoring it.

#[cfg(feature = "signed-identity")]
use crate::access::globs;
use crate::config::ServerConfig;
use crate::error::ServerError;
use globset::GlobMatcher;
#[cfg(feature = "signed-identity")]
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
#[cfg(feature = "signed-identity")]
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// Checks tokens against the configured key.
#[cfg(feature = "signed-identity")]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// Who a verified token says the client is.
#[derive(Debug)]
pub struct Identity {
    /// The token's `sub`.
    pub user: String,
    /// `name`, or `sub`: the nick.
    pub nick: String,
    /// `exp`, seconds since the Unix epoch.
    pub expires: Option<u64>,
    enter: Option<Vec<GlobMatcher>>,
    watch: Option<Vec<GlobMatcher>>,
    write: Option<Vec<GlobMatcher>>,
    /// The globs of `watch` that start with `$`: the only ones that let a client watch the
    /// server's own channels (see [`crate::server_channels`]), so `*` never does.
    watch_server: Vec<GlobMatcher>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the token has expired; sign in again")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

#[cfg(feature = "signed-identity")]
#[derive(Deserialize)]
struct Claims {
    sub: String,
    name: Option<String>,
    exp: Option<u64>,
    #[serde(default)]
    tack: Option<Permissions>,
}

/// The `tack` claim: globs of what the client may do; a list left out allows everything.
#[cfg(feature = "signed-identity")]
#[derive(Deserialize, Default)]
struct Permissions {
    enter: Option<Vec<String>>,
    watch: Option<Vec<String>>,
    write: Option<Vec<String>>,
}

/// Without the `signed-identity` feature there is no verifier: no value of this type exists.
#[cfg(not(feature = "signed-identity"))]
pub enum Verifier {}

#[cfg(not(feature = "signed-identity"))]
impl Verifier {
    /// None without a key; a configured key is refused, naming what would take it.
    pub fn from_config(config: &ServerConfig) -> Result<Option<Verifier>, ServerError> {
        if config.auth_key.is_none() && config.auth_public_key.is_none() {
            return Ok(None);
        }
        Err(ServerError::Unsafe(
            "auth_key / auth_public_key: this build has no signed identity (built without \
             tack-server's `signed-identity` feature); `tack serve` has it"
                .into(),
        ))
    }

    pub fn verify(&self, _token: &str) -> Result<Identity, IdentityError> {
        match *self {}
    }
}

#[cfg(feature = "signed-identity")]
impl Verifier {
    /// The verifier `config` asks for; None when no key is set.
    pub fn from_config(config: &ServerConfig) -> Result<Option<Verifier>, ServerError> {
        let (key, algorithms) = match (&config.auth_key, &config.auth_public_key) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(ServerError::Unsafe(
                    "set auth_key (HS256) or auth_public_key (RS256/ES256), not both".into(),
                ))
            }
            (Some(secret), None) => (
                DecodingKey::from_secret(secret.as_bytes()),
                vec![Algorithm::HS256],
            ),
            (None, Some(path)) => {
                let pem = std::fs::read(path).map_err(|source| ServerError::ReadConfig {
                    path: path.clone(),
                    source,
                })?;
                let bad = |detail: String| ServerError::BadConfig {
                    path: path.clone(),
                    detail: format!("auth_public_key: {detail}"),
                };
                match DecodingKey::from_rsa_pem(&pem) {
                    Ok(key) => (key, vec![Algorithm::RS256]),
                    Err(rsa) => DecodingKey::from_ec_pem(&pem)
                        .map(|key| (key, vec![Algorithm::ES256]))
                        .map_err(|ec| {
                            bad(format!(
                                "neither an RSA ({rsa}) nor an EC ({ec}) public key"
                            ))
                        })?,
                }
            }
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        // `exp` is checked by us, so an expired token gets its own answer, not "invalid".
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        Ok(Some(Verifier { key, validation }))
    }

    /// The identity `token` proves, if it is valid and not expired.
    pub fn verify(&self, token: &str) -> Result<Identity, IdentityError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let permissions = claims.tack.unwrap_or_default();
        let list = |setting, patterns: Option<Vec<String>>| {
            patterns
                .map(|p| globs(setting, &p))
                .transpose()
                .map_err(|e| IdentityError::Invalid(e.to_string()))
        };
        let server_globs: Vec<String> = permissions
            .watch
            .iter()
            .flatten()
            .filter(|p| p.starts_with('$'))
            .cloned()
            .collect();
        let identity = Identity {
            nick: claims.name.unwrap_or_else(|| claims.sub.clone()),
            user: claims.sub,
            expires: claims.exp,
            enter: list("tack.enter", permissions.enter)?,
            watch: list("tack.watch", permissions.watch)?,
            write: list("tack.write", permissions.write)?,
            watch_server: list("tack.watch", Some(server_globs))?.unwrap_or_default(),
        };
        if identity.expired() {
            return Err(IdentityError::Expired);
        }
        tack_protocol::chat::check_nick(&identity.nick)
            .map_err(|problem| IdentityError::Invalid(format!("its name {problem}")))?;
        Ok(identity)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn allows(list: &Option<Vec<GlobMatcher>>, name: &str) -> bool {
    list.as_ref()
        .is_none_or(|globs| globs.iter().any(|g| g.is_match(name)))
}

impl Identity {
    pub fn expired(&self) -> bool {
        self.expires.is_some_and(|exp| now() >= exp)
    }

    /// Expired at least `grace` ago.
    pub fn expired_for(&self, grace: std::time::Duration) -> bool {
        self.expires
            .is_some_and(|exp| now() >= exp.saturating_add(grace.as_secs()))
    }

    pub fn may_enter(&self, room: &str) -> bool {
        allows(&self.enter, room)
    }

    pub fn may_watch(&self, channel: &str) -> bool {
        allows(&self.watch, channel)
    }

    /// Whether the token names `channel`, one of the server's own, by a `$` glob of its
    /// `tack.watch` list: leaving the list out allows everything else, never these.
    pub fn names_server_channel(&self, channel: &str) -> bool {
        self.watch_server.iter().any(|g| g.is_match(channel))
    }

    pub fn may_write(&self, room: &str) -> bool {
        allows(&self.write, room)
    }

    /// The key the hub holds this identity's nick under: every session of one user shares it,
    /// so signing in on a second device is not "nick taken". Far above any session's key, and
    /// the same on every node and version (FNV-1a of `sub`, not the standard library's hasher,
    /// whose output may change between Rust releases).
    pub fn nick_owner(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.user.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash | (1 << 63)
    }
}

//! OpenID Connect ID tokens: a compact JWS checked against the issuer's JWKS, then its claims
//! against what the sign-in expects (OpenID Connect Core 1.0, 3.1.3.7). Only asymmetric
//! algorithms are accepted (RS256, ES256, EdDSA): `none` and the HMAC family would let anyone
//! holding the client secret, or no one, mint identities.

use crate::constant_time_eq;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// Why an ID token was refused; each names the rule it broke.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenError {
    #[error("id_token: not a compact JWS (three base64url parts)")]
    Malformed,
    #[error("id_token header: {0}")]
    Header(String),
    #[error("id_token: alg {0} is not accepted (RS256, ES256 or EdDSA)")]
    Algorithm(String),
    #[error("id_token: no key in the issuer's JWKS matches kid {0}")]
    UnknownKey(String),
    #[error("id_token: the signature does not verify with the issuer's key")]
    Signature,
    #[error("id_token claims: {0}")]
    Claims(String),
    #[error("id_token iss: {0} is not the configured issuer")]
    Issuer(String),
    #[error("id_token aud: does not name this client")]
    Audience,
    #[error("id_token exp: the token expired")]
    Expired,
    #[error("id_token iat: issued in the future")]
    IssuedInFuture,
    #[error("id_token nonce: does not match this sign-in")]
    Nonce,
}

/// The issuer's published keys (`jwks_uri`).
#[derive(Debug, Clone, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One public key; fields a key type does not use are absent.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// What this sign-in expects of the token.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce the sign-in sent, when its token came back through the browser. `None` for a
    /// token casemate fetched from the token endpoint itself with no nonce sent (RFC 8628's
    /// device flow), where the nonce's protection against an injected token has no part to play.
    pub nonce: Option<&'a str>,
    pub now: OffsetDateTime,
    /// How far the issuer's clock may differ from ours.
    pub max_skew: Duration,
}

/// A verified token's claims.
#[derive(Debug, Clone)]
pub struct IdToken {
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl IdToken {
    /// A string claim, when present and a string.
    pub fn string_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A claim holding a list of strings (or one string), such as a groups claim.
    pub fn strings_claim(&self, name: &str) -> Vec<String> {
        strings_in(&self.claims, name)
    }
}

/// The claim `name` of `claims` as a list of strings (one string being a list of one); empty
/// when absent or of another type. For claims from elsewhere too, such as a userinfo response.
pub fn strings_in(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

fn decode(part: &str) -> Result<Vec<u8>, IdTokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| IdTokenError::Malformed)
}

fn key_part(value: &Option<String>, field: &str) -> Result<Vec<u8>, IdTokenError> {
    let text = value
        .as_deref()
        .ok_or_else(|| IdTokenError::Header(format!("the matching JWK has no {field}")))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| IdTokenError::Header(format!("the matching JWK's {field} is not base64url")))
}

/// The key type each accepted algorithm needs.
fn key_type(alg: &str) -> Result<&'static str, IdTokenError> {
    match alg {
        "RS256" => Ok("RSA"),
        "ES256" => Ok("EC"),
        "EdDSA" => Ok("OKP"),
        other => Err(IdTokenError::Algorithm(other.to_owned())),
    }
}

fn find_key<'a>(keys: &'a Jwks, header: &Header) -> Result<&'a Jwk, IdTokenError> {
    let kty = key_type(&header.alg)?;
    let usable = |key: &&Jwk| {
        key.kty == kty
            && key.alg.as_deref().is_none_or(|alg| alg == header.alg)
            && key.usage.as_deref().is_none_or(|usage| usage == "sig")
    };
    let mut candidates = keys.keys.iter().filter(usable);
    match &header.kid {
        Some(kid) => candidates
            .find(|key| key.kid.as_deref() == Some(kid))
            .ok_or_else(|| IdTokenError::UnknownKey(kid.clone())),
        // No kid: acceptable only when exactly one key could have signed.
        None => match (candidates.next(), candidates.next()) {
            (Some(only), None) => Ok(only),
            _ => Err(IdTokenError::UnknownKey("(none given)".into())),
        },
    }
}

fn verify_signature(
    alg: &str,
    key: &Jwk,
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<(), IdTokenError> {
    let verified = match alg {
        "RS256" => RsaPublicKeyComponents {
            n: key_part(&key.n, "n")?,
            e: key_part(&key.e, "e")?,
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            signature_bytes,
        ),
        "ES256" => {
            if key.crv.as_deref() != Some("P-256") {
                return Err(IdTokenError::Header("ES256 needs a P-256 key".into()));
            }
            let mut point = vec![0x04];
            point.extend(key_part(&key.x, "x")?);
            point.extend(key_part(&key.y, "y")?);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature_bytes)
        }
        "EdDSA" => {
            if key.crv.as_deref() != Some("Ed25519") {
                return Err(IdTokenError::Header("EdDSA needs an Ed25519 key".into()));
            }
            UnparsedPublicKey::new(&signature::ED25519, key_part(&key.x, "x")?)
                .verify(message, signature_bytes)
        }
        other => return Err(IdTokenError::Algorithm(other.to_owned())),
    };
    verified.map_err(|_| IdTokenError::Signature)
}

fn number_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, IdTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().map(|seconds| seconds as i64))
            .map(Some)
            .ok_or_else(|| IdTokenError::Claims(format!("{name} must be a number of seconds"))),
    }
}

fn check_audience(claims: &Map<String, Value>, client_id: &str) -> Result<(), IdTokenError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(IdTokenError::Audience),
    };
    if !audiences.contains(&client_id) {
        return Err(IdTokenError::Audience);
    }
    // With several audiences the authorized party must be this client (Core 3.1.3.7, 4-5).
    let authorized_party = claims.get("azp").and_then(Value::as_str);
    if (audiences.len() > 1 || authorized_party.is_some()) && authorized_party != Some(client_id) {
        return Err(IdTokenError::Audience);
    }
    Ok(())
}

fn check_times(claims: &Map<String, Value>, expected: &Expected) -> Result<(), IdTokenError> {
    let now = expected.now.unix_timestamp();
    let skew = expected.max_skew.whole_seconds();
    let expires = number_claim(claims, "exp")?
        .ok_or_else(|| IdTokenError::Claims("exp is required".into()))?;
    if expires + skew <= now {
        return Err(IdTokenError::Expired);
    }
    let issued = number_claim(claims, "iat")?
        .ok_or_else(|| IdTokenError::Claims("iat is required".into()))?;
    if issued - skew > now {
        return Err(IdTokenError::IssuedInFuture);
    }
    if number_claim(claims, "nbf")?.is_some_and(|not_before| not_before - skew > now) {
        return Err(IdTokenError::Claims("nbf: not valid yet".into()));
    }
    Ok(())
}

/// Verifies `token`'s signature with `keys` and its claims against `expected`.
pub fn verify(token: &str, keys: &Jwks, expected: &Expected) -> Result<IdToken, IdTokenError> {
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload_part), Some(signature_part), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed);
    };
    let header: Header = serde_json::from_slice(&decode(header_part)?)
        .map_err(|error| IdTokenError::Header(error.to_string()))?;
    if header.crit.is_some() {
        return Err(IdTokenError::Header(
            "crit extensions are not supported".into(),
        ));
    }
    let key = find_key(keys, &header)?;
    let signed = &token[..header_part.len() + 1 + payload_part.len()];
    verify_signature(
        &header.alg,
        key,
        signed.as_bytes(),
        &decode(signature_part)?,
    )?;

    let claims: Map<String, Value> = serde_json::from_slice(&decode(payload_part)?)
        .map_err(|error| IdTokenError::Claims(error.to_string()))?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if issuer != expected.issuer {
        return Err(IdTokenError::Issuer(issuer.to_owned()));
    }
    check_audience(&claims, expected.client_id)?;
    check_times(&claims, expected)?;
    if let Some(expected_nonce) = expected.nonce {
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !constant_time_eq(nonce.as_bytes(), expected_nonce.as_bytes()) {
            return Err(IdTokenError::Nonce);
        }
    }
    let subject = match claims.get("sub").and_then(Value::as_str) {
        Some(subject) if !subject.is_empty() => subject.to_owned(),
        _ => {
            return Err(IdTokenError::Claims(
                "sub must be a non-empty string".into(),
            ));
        }
    };
    Ok(IdToken { subject, claims })
}

#[cfg(test)]
mod tests;

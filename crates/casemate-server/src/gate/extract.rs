//! Request-body extractors whose every refusal is the JSON error naming the field and rule.

use super::BodyLimit;
use crate::error::Error;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use casemate_types::error::without_value;
use serde::de::DeserializeOwned;

/// A JSON body, decoded strictly: unknown fields, missing fields and wrong types are 400s that
/// name the field.
pub struct ApiJson<T>(pub T);

fn content_type(request: &Request) -> String {
    content_type_of(request.headers())
}

fn content_type_of(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn is_json(content_type: &str) -> bool {
    content_type == "application/json" || content_type.ends_with("+json")
}

/// Refuses a request whose body is not declared JSON: also what keeps a cross-site HTML form
/// (which cannot send that type without a CORS preflight, never granted) out of a route.
pub fn require_json(headers: &HeaderMap) -> Result<(), Error> {
    if is_json(&content_type_of(headers)) {
        Ok(())
    } else {
        Err(Error::invalid("content-type", "must be application/json"))
    }
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Error> {
    let limit = request
        .extensions()
        .get::<BodyLimit>()
        .map(|l| l.0)
        .unwrap_or(0);
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge { limit }
            } else {
                Error::invalid("body", rejection.body_text())
            }
        })
}

/// Names the field a serde message is about: `missing field `x``, `unknown field `x``.
fn field_in_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let lead = &message[..start];
    (lead.contains("missing field") || lead.contains("unknown field"))
        .then(|| message[start..end].to_owned())
}

fn without_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// A decoding error about `path` (`.` for the whole body): named by the path, or by the field
/// the message names.
fn field_error(path: &str, message: String) -> Error {
    let field = if path == "." {
        field_in_message(&message).unwrap_or_else(|| "body".to_owned())
    } else {
        path.to_owned()
    };
    Error::invalid(field, message)
}

pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Tracking the path of every value costs a quarter of a 1,000-metric batch's server time,
    // so a body is decoded plainly first and again with the path only to name a refused field.
    serde_json::from_slice(bytes).or_else(|_| decode_json_naming_the_field(bytes))
}

fn decode_json_naming_the_field<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return Error::invalid(
                "body",
                format!(
                    "is not valid JSON: {}",
                    without_position(&inner.to_string())
                ),
            );
        }
        field_error(&path, without_value(without_position(&inner.to_string())))
    })?;
    deserializer
        .end()
        .map_err(|_| Error::invalid("body", "has trailing characters after the JSON value"))?;
    Ok(value)
}

fn decode_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_urlencoded::from_bytes(bytes).map_err(|error| {
        let message = without_value(&error.to_string());
        let field = field_in_message(&message).unwrap_or_else(|| "body".to_owned());
        Error::invalid(field, message)
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(request.headers())?;
        let bytes = read_body(request, state).await?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// An OAuth2 token request: a form (as OAuth2 clients send it) or JSON.
pub struct FormOrJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormOrJson<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = content_type(&request);
        let bytes = read_body(request, state).await?;
        if content_type == "application/x-www-form-urlencoded" {
            decode_form(&bytes).map(FormOrJson)
        } else if is_json(&content_type) {
            decode_json(&bytes).map(FormOrJson)
        } else {
            Err(Error::invalid(
                "content-type",
                "must be application/x-www-form-urlencoded or application/json",
            ))
        }
    }
}

/// Path parameters; a malformed one (say, a token id that is not a UUID) is a 400 naming the path.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| Error::invalid("path", rejection.body_text()))
    }
}

/// The host the client addressed (for key ids), limited to host-name characters.
pub struct RequestHost(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestHost {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .filter(|h| !h.is_empty() && h.len() <= 255)
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            })
            .unwrap_or("localhost");
        Ok(RequestHost(host.to_owned()))
    }
}

/// Query parameters, decoded strictly: unknown or malformed ones are 400s naming them.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        decode_form(parts.uri.query().unwrap_or("").as_bytes()).map(ApiQuery)
    }
}

/// An MLflow request: the query string and the JSON body (either may be empty) merged, as
/// MLflow's clients send GETs as query strings and the rest as JSON. Unknown fields are ignored
/// (newer clients add some); a repeated query parameter becomes a list, and so do the fields
/// that are always lists.
pub struct MlflowRequest<T>(pub T);

const MLFLOW_LIST_FIELDS: [&str; 3] = ["order_by", "stages", "experiment_ids"];

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MlflowRequest<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        use serde_json::Value;
        let query = request.uri().query().unwrap_or("").to_owned();
        let bytes = read_body(request, state).await?;
        let body_start = bytes.iter().find(|b| !b.is_ascii_whitespace());
        // A body alone (every POST the client sends) decodes straight into the request type.
        if query.is_empty() && body_start == Some(&b'{') {
            return decode_json(&bytes).map(MlflowRequest);
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&query)
            .map_err(|e| Error::invalid("query", without_value(&e.to_string())))?;
        let mut object = serde_json::Map::new();
        for (name, value) in pairs {
            match object.get_mut(&name) {
                Some(Value::Array(items)) => items.push(Value::String(value)),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(value)]);
                }
                None => {
                    object.insert(name, Value::String(value));
                }
            }
        }
        for name in MLFLOW_LIST_FIELDS {
            if let Some(value @ Value::String(_)) = object.get_mut(name) {
                let single = value.take();
                *value = Value::Array(vec![single]);
            }
        }
        if body_start.is_some() {
            match decode_json::<Value>(&bytes)? {
                Value::Object(body) => object.extend(body),
                _ => return Err(Error::invalid("body", "must be a JSON object")),
            }
        }
        serde_path_to_error::deserialize(Value::Object(object))
            .map(MlflowRequest)
            .map_err(|error| {
                let path = error.path().to_string();
                field_error(&path, without_value(&error.into_inner().to_string()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use casemate_types::wire::{CreateUserRequest, TokenRequest};
    use proptest::prelude::*;

    fn field_of(result: Result<CreateUserRequest, Error>) -> String {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(field_of(decode_json(br#"{"password":"x"}"#)), "name");
        assert_eq!(
            field_of(decode_json(br#"{"name":5,"password":"x"}"#)),
            "name"
        );
        assert_eq!(
            field_of(decode_json(br#"{"name":"a","password":"x","admin":true}"#)),
            "admin"
        );
        assert_eq!(field_of(decode_json(br#"{"name":"a","#)), "body");
        assert_eq!(
            field_of(decode_json(br#"{"name":"a","password":"x"} []"#)),
            "body"
        );
    }

    #[test]
    fn form_errors_name_the_field() {
        let result: Result<TokenRequest, Error> = decode_form(b"grant_type=magic");
        assert!(
            matches!(result, Err(Error::InvalidInput { ref rule, .. }) if rule.contains("magic"))
        );
        let result: Result<TokenRequest, Error> = decode_form(b"username=a");
        assert!(
            matches!(result, Err(Error::InvalidInput { ref field, .. }) if field == "grant_type")
        );
    }

    #[test]
    fn a_mistyped_value_is_not_echoed() {
        let Err(Error::InvalidInput { field, rule }) =
            decode_json::<CreateUserRequest>(br#"{"name":"alice","password":123456789012}"#)
        else {
            panic!("accepted");
        };
        assert_eq!(field, "password");
        assert!(
            rule.starts_with("invalid type: integer, expected"),
            "{rule}"
        );
        assert!(!rule.contains("123456789012"), "{rule}");
        let Err(Error::InvalidInput { rule, .. }) = decode_json::<TokenRequest>(
            br#"{"grant_type":"password","totp":{"k":"v"},"password":"x"}"#,
        ) else {
            panic!("accepted");
        };
        assert!(!rule.contains("\"v\""), "{rule}");
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_json::<TokenRequest>(&bytes);
            let _ = decode_form::<TokenRequest>(&bytes);
            let _ = decode_json::<CreateUserRequest>(&bytes);
        }

        #[test]
        fn json_shaped_input_never_panics(text in r#"\{("[a-z_]{1,12}":("[^"]{0,20}"|[0-9]{1,5}|true|null|\[\]),?){0,6}\}"#) {
            let _ = decode_json::<TokenRequest>(text.as_bytes());
            let _ = decode_json::<CreateUserRequest>(text.as_bytes());
        }

        /// The plain decoder and the one that names the field accept exactly the same bodies, so
        /// a refusal always comes with its field and nothing refused slips through on retry.
        #[test]
        fn both_decoders_accept_the_same_bodies(text in r#"\{("(name|password|admin|grant_type|username|totp)":("[^"\\]{0,8}"|[0-9]{1,3}|true|null|\[\]),?){0,4}\} ?(\[\])?"#) {
            let bytes = text.as_bytes();
            prop_assert_eq!(
                serde_json::from_slice::<CreateUserRequest>(bytes).is_ok(),
                decode_json_naming_the_field::<CreateUserRequest>(bytes).is_ok()
            );
            prop_assert_eq!(
                serde_json::from_slice::<TokenRequest>(bytes).is_ok(),
                decode_json_naming_the_field::<TokenRequest>(bytes).is_ok()
            );
        }
    }
}

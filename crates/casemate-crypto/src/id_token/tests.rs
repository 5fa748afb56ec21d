use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use serde_json::json;

const ISSUER: &str = "http://127.0.0.1:9000";
const CLIENT: &str = "casemate";
const NONCE: &str = "n-0S6_WzA2Mj";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: Some(NONCE),
        now: now(),
        max_skew: Duration::seconds(60),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Signer {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl Signer {
    fn alg(&self) -> &'static str {
        match self {
            Signer::Ed(_) => "EdDSA",
            Signer::Ec(_) => "ES256",
            Signer::Rsa(_) => "RS256",
        }
    }

    fn jwk(&self, kid: &str) -> Jwk {
        let mut jwk: Jwk = match self {
            Signer::Ed(pair) => serde_json::from_value(
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())}),
            ),
            Signer::Ec(pair) => {
                let point = pair.public_key().as_ref();
                serde_json::from_value(json!({"kty": "EC", "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..])}))
            }
            Signer::Rsa(pair) => {
                let public = pair.public_key();
                serde_json::from_value(json!({"kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero())}))
            }
        }
        .unwrap();
        jwk.kid = Some(kid.into());
        jwk
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Signer::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Signer::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .unwrap();
                signature
            }
        }
    }
}

fn ed25519() -> Signer {
    Signer::Ed(Ed25519KeyPair::generate().unwrap())
}

fn token(signer: &Signer, header: Value, claims: Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{signed}.{}", b64(&signer.sign(signed.as_bytes())))
}

fn good_claims() -> Value {
    let now = now().unix_timestamp();
    json!({"iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "nonce": NONCE,
        "iat": now - 5, "exp": now + 300, "preferred_username": "ada",
        "groups": ["ml-team", "admins"]})
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn check(signer: &Signer, claims: Value) -> Result<IdToken, IdTokenError> {
    let keys = Jwks {
        keys: vec![signer.jwk("k1")],
    };
    let header = json!({"alg": signer.alg(), "kid": "k1", "typ": "JWT"});
    verify(&token(signer, header, claims), &keys, &expected())
}

#[test]
fn tokens_from_each_accepted_algorithm_verify_and_give_their_claims() {
    let rsa = Signer::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap());
    let ec = Signer::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap());
    for signer in [ed25519(), ec, rsa] {
        let verified = check(&signer, good_claims()).unwrap();
        assert_eq!(verified.subject, "248289761001", "{}", signer.alg());
        assert_eq!(verified.string_claim("preferred_username"), Some("ada"));
        assert_eq!(verified.strings_claim("groups"), ["ml-team", "admins"]);
    }
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    let signer = ed25519();
    let claims = with(good_claims(), "iss", json!("http://127.0.0.1:9001"));
    assert_eq!(
        check(&signer, claims).unwrap_err(),
        IdTokenError::Issuer("http://127.0.0.1:9001".into())
    );
}

#[test]
fn a_token_for_another_audience_is_refused_and_several_audiences_need_azp() {
    let signer = ed25519();
    for aud in [json!("other-app"), json!(["other-app"]), json!(null)] {
        let claims = with(good_claims(), "aud", aud);
        assert_eq!(check(&signer, claims).unwrap_err(), IdTokenError::Audience);
    }
    let shared = with(good_claims(), "aud", json!([CLIENT, "other-app"]));
    assert_eq!(
        check(&signer, shared.clone()).unwrap_err(),
        IdTokenError::Audience
    );
    assert_eq!(
        check(&signer, with(shared.clone(), "azp", json!("other-app"))).unwrap_err(),
        IdTokenError::Audience
    );
    assert!(check(&signer, with(shared, "azp", json!(CLIENT))).is_ok());
}

#[test]
fn an_expired_token_is_refused_once_past_the_allowed_skew() {
    let signer = ed25519();
    let now = now().unix_timestamp();
    let just_within = with(good_claims(), "exp", json!(now - 59));
    assert!(check(&signer, just_within).is_ok());
    for exp in [json!(now - 60), json!(now - 86_400)] {
        let claims = with(good_claims(), "exp", exp);
        assert_eq!(check(&signer, claims).unwrap_err(), IdTokenError::Expired);
    }
    let future = with(good_claims(), "iat", json!(now + 61));
    assert_eq!(
        check(&signer, future).unwrap_err(),
        IdTokenError::IssuedInFuture
    );
    let not_yet = with(good_claims(), "nbf", json!(now + 120));
    assert!(matches!(
        check(&signer, not_yet).unwrap_err(),
        IdTokenError::Claims(rule) if rule.starts_with("nbf")
    ));
}

#[test]
fn a_nonce_from_another_sign_in_or_none_is_refused() {
    let signer = ed25519();
    let other = with(good_claims(), "nonce", json!("an-earlier-nonce"));
    assert_eq!(check(&signer, other).unwrap_err(), IdTokenError::Nonce);
    let mut missing = good_claims();
    missing.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        check(&signer, missing.clone()).unwrap_err(),
        IdTokenError::Nonce
    );
    // A token casemate fetched itself with no nonce sent (the device flow) needs none, and
    // every other check still holds for it.
    let keys = Jwks {
        keys: vec![signer.jwk("k1")],
    };
    let header = json!({"alg": signer.alg(), "kid": "k1", "typ": "JWT"});
    let no_nonce = Expected {
        nonce: None,
        ..expected()
    };
    assert!(verify(&token(&signer, header.clone(), missing), &keys, &no_nonce).is_ok());
    let elsewhere = with(good_claims(), "iss", json!("https://elsewhere.example"));
    assert!(matches!(
        verify(&token(&signer, header, elsewhere), &keys, &no_nonce),
        Err(IdTokenError::Issuer(_))
    ));
}

#[test]
fn required_claims_are_named_when_absent_or_of_the_wrong_type() {
    let signer = ed25519();
    for (name, value, rule) in [
        ("sub", json!(""), "sub must be a non-empty string"),
        ("exp", json!(null), "exp must be a number of seconds"),
        ("iat", json!("yesterday"), "iat must be a number of seconds"),
    ] {
        let error = check(&signer, with(good_claims(), name, value)).unwrap_err();
        assert_eq!(error, IdTokenError::Claims(rule.into()));
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn unsigned_symmetric_and_forged_tokens_are_refused() {
    let signer = ed25519();
    let keys = Jwks {
        keys: vec![signer.jwk("k1")],
    };
    let claims = b64(good_claims().to_string().as_bytes());
    for alg in ["none", "HS256"] {
        let header = b64(json!({"alg": alg, "kid": "k1"}).to_string().as_bytes());
        let unsigned = format!("{header}.{claims}.");
        assert_eq!(
            verify(&unsigned, &keys, &expected()).unwrap_err(),
            IdTokenError::Algorithm(alg.into())
        );
    }
    let impostor = ed25519();
    let forged = token(
        &impostor,
        json!({"alg": "EdDSA", "kid": "k1"}),
        good_claims(),
    );
    assert_eq!(
        verify(&forged, &keys, &expected()).unwrap_err(),
        IdTokenError::Signature
    );
    let mut altered = token(&signer, json!({"alg": "EdDSA", "kid": "k1"}), good_claims());
    let payload = with(good_claims(), "sub", json!("someone-else")).to_string();
    let parts: Vec<&str> = altered.split('.').collect();
    altered = format!("{}.{}.{}", parts[0], b64(payload.as_bytes()), parts[2]);
    assert_eq!(
        verify(&altered, &keys, &expected()).unwrap_err(),
        IdTokenError::Signature
    );
    for malformed in ["", "a.b", "a.b.c.d", "!!.??.**"] {
        assert!(
            verify(malformed, &keys, &expected()).is_err(),
            "{malformed}"
        );
    }
}

#[test]
fn the_signing_key_is_found_by_kid_and_a_missing_kid_needs_a_single_candidate() {
    let first = ed25519();
    let second = ed25519();
    let keys = Jwks {
        keys: vec![first.jwk("k1"), second.jwk("k2")],
    };
    let by_kid = token(&second, json!({"alg": "EdDSA", "kid": "k2"}), good_claims());
    assert!(verify(&by_kid, &keys, &expected()).is_ok());
    let unknown = token(&second, json!({"alg": "EdDSA", "kid": "k9"}), good_claims());
    assert_eq!(
        verify(&unknown, &keys, &expected()).unwrap_err(),
        IdTokenError::UnknownKey("k9".into())
    );
    let no_kid = token(&first, json!({"alg": "EdDSA"}), good_claims());
    assert!(matches!(
        verify(&no_kid, &keys, &expected()).unwrap_err(),
        IdTokenError::UnknownKey(_)
    ));
    let single = Jwks {
        keys: vec![first.jwk("k1")],
    };
    assert!(verify(&no_kid, &single, &expected()).is_ok());
}

//! A root key held in a PKCS#11 token (an HSM, or SoftHSM in tests). The key is generated inside
//! the token as sensitive and non-extractable; wrapping and unwrapping are AES-256-GCM operations
//! the token performs, so the key's bits never enter this process.

use crate::keyprovider::KeyProvider;
use crate::{CryptoError, random_bytes};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
pub use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;
const TAG_BITS: u64 = 128;

/// Where the root key lives: the module to load, the token and the key's label in it.
pub struct Pkcs11Settings {
    pub module: PathBuf,
    pub token_label: String,
    pub key_label: String,
    pub pin: AuthPin,
}

impl std::fmt::Debug for Pkcs11Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

pub struct Pkcs11KeyProvider {
    // A PKCS#11 session is not safe for concurrent use; the token serializes operations anyway.
    session: Mutex<Session>,
    key: ObjectHandle,
    key_id: String,
}

impl std::fmt::Debug for Pkcs11KeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11KeyProvider")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn hsm_error(step: &str) -> impl Fn(cryptoki::error::Error) -> CryptoError + '_ {
    move |error| CryptoError::Hsm(format!("{step}: {error}"))
}

impl Pkcs11KeyProvider {
    /// Opens the token, logs in as its user and finds the root key, generating it inside the token
    /// on first use.
    pub fn open(settings: &Pkcs11Settings) -> Result<Self, CryptoError> {
        let context = load_module(&settings.module)?;
        let slot = context
            .get_slots_with_token()
            .map_err(hsm_error("listing slots"))?
            .into_iter()
            .find(|slot| {
                context
                    .get_token_info(*slot)
                    .is_ok_and(|info| info.label() == settings.token_label)
            })
            .ok_or_else(|| {
                CryptoError::Hsm(format!(
                    "no token labelled '{}' in {}",
                    settings.token_label,
                    settings.module.display()
                ))
            })?;
        let session = context
            .open_rw_session(slot)
            .map_err(hsm_error("opening a session"))?;
        session
            .login(UserType::User, Some(&settings.pin))
            .map_err(hsm_error("logging in to the token"))?;
        let key = find_or_generate_key(&session, &settings.key_label)?;
        Ok(Self {
            session: Mutex::new(session),
            key,
            key_id: format!(
                "pkcs11:token={};object={}",
                settings.token_label, settings.key_label
            ),
        })
    }

    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>, CryptoError> {
        self.session
            .lock()
            .map_err(|_| CryptoError::Hsm("session lock poisoned".into()))
    }
}

fn load_module(module: &Path) -> Result<Pkcs11, CryptoError> {
    let context = Pkcs11::new(module).map_err(|error| {
        CryptoError::Hsm(format!("loading module {}: {error}", module.display()))
    })?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => Ok(context),
        // Another provider in this process already initialized the library; share it.
        Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(context),
        Err(error) => Err(hsm_error("initializing the module")(error)),
    }
}

fn find_or_generate_key(session: &Session, label: &str) -> Result<ObjectHandle, CryptoError> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(hsm_error("finding the root key"))?;
    match found.as_slice() {
        [key] => {
            ensure_non_extractable(session, *key)?;
            Ok(*key)
        }
        [] => session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::ValueLen(32.into()),
                    Attribute::Label(label.as_bytes().to_vec()),
                ],
            )
            .map_err(hsm_error("generating the root key")),
        _ => Err(CryptoError::Hsm(format!(
            "{} AES keys are labelled '{label}'; the label must name exactly one",
            found.len()
        ))),
    }
}

/// A root key that could be read out of the token would defeat the point of the token.
fn ensure_non_extractable(session: &Session, key: ObjectHandle) -> Result<(), CryptoError> {
    let attributes = session
        .get_attributes(key, &[AttributeType::Extractable, AttributeType::Sensitive])
        .map_err(hsm_error("reading the root key's attributes"))?;
    let protected = attributes.iter().all(|attribute| match attribute {
        Attribute::Extractable(extractable) => !extractable,
        Attribute::Sensitive(sensitive) => *sensitive,
        _ => true,
    });
    if protected && attributes.len() == 2 {
        Ok(())
    } else {
        Err(CryptoError::Hsm(
            "the root key in the token is extractable or not sensitive; refusing to use it".into(),
        ))
    }
}

impl KeyProvider for Pkcs11KeyProvider {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn wrap(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut iv = *nonce;
        let params = GcmParams::new(&mut iv, associated_data, TAG_BITS.into())
            .map_err(hsm_error("GCM parameters"))?;
        let sealed = self
            .session()?
            .encrypt(&Mechanism::AesGcm(params), self.key, plaintext)
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap(
        &self,
        wrapped: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (nonce, sealed) = wrapped
            .split_at_checked(NONCE_LEN)
            .ok_or(CryptoError::Open)?;
        let mut iv: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        let params = GcmParams::new(&mut iv, associated_data, TAG_BITS.into())
            .map_err(hsm_error("GCM parameters"))?;
        self.session()?
            .decrypt(&Mechanism::AesGcm(params), self.key, sealed)
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }
}

//! Users, service principals, their credentials, and TOTP enrolment.

use super::signing::to_time;
use super::{Caller, Credential, Services};
use crate::error::{Error, Result};
use casemate_crypto::opaque;
use casemate_store::{ClientSecretRecord, PatRecord, PrincipalRecord};
use casemate_types::Sensitive;
use casemate_types::names::{validate_label, validate_password, validate_principal_name};
use casemate_types::wire::{
    AddClientSecretRequest, ClientSecretCreated, ClientSecretInfo, CreatePatRequest,
    CreateServicePrincipalRequest, CreateUserRequest, PatCreated, PersonalAccessToken,
    PrincipalKind, ServicePrincipal, TotpEnrollment, User,
};
use uuid::Uuid;

/// Associated data binding a sealed TOTP secret to its principal.
pub fn totp_context(principal_id: Uuid) -> Vec<u8> {
    format!("casemate/totp/{principal_id}").into_bytes()
}

fn days_in_range(field: &str, value: Option<u32>, default: u32, max: u32) -> Result<i64> {
    let days = value.unwrap_or(default);
    if !(1..=max).contains(&days) {
        return Err(Error::invalid(
            field,
            format!("must be between 1 and {max} days"),
        ));
    }
    Ok(i64::from(days) * 86_400)
}

impl Services {
    /// A new principal of `kind` named `name` (its display name, when none is given), both
    /// checked; no credentials yet.
    pub(crate) fn new_principal(
        &self,
        kind: PrincipalKind,
        name: &str,
        display_name: Option<&String>,
    ) -> Result<PrincipalRecord> {
        validate_principal_name("name", name)?;
        let display_name = display_name.cloned().unwrap_or_else(|| name.to_owned());
        validate_label("display_name", &display_name)?;
        Ok(PrincipalRecord {
            id: Uuid::new_v4(),
            kind: kind.as_str().into(),
            name: name.to_owned(),
            display_name,
            enabled: true,
            created_at: self.now_unix(),
            password_hash: None,
            client_id: None,
        })
    }

    /// Finds a principal of `kind` by object id or by name.
    pub(crate) async fn find_principal(
        &self,
        reference: &str,
        kind: PrincipalKind,
    ) -> Result<PrincipalRecord> {
        let found = match Uuid::try_parse(reference) {
            Ok(id) => self.store.principal_by_id(id).await?,
            Err(_) => self.store.principal_by_name(reference).await?,
        };
        let what = match kind {
            PrincipalKind::ServicePrincipal => "service principal",
            PrincipalKind::Group => "group",
            _ => "user",
        };
        found
            .filter(|principal| principal.kind == kind.as_str())
            .ok_or_else(|| Error::NotFound(format!("{what} '{reference}'")))
    }

    async fn user_view(&self, record: PrincipalRecord) -> Result<User> {
        let mfa_enabled = self
            .store
            .totp_factor(record.id)
            .await?
            .is_some_and(|f| f.confirmed);
        Ok(User {
            object_id: record.id,
            name: record.name,
            display_name: record.display_name,
            enabled: record.enabled,
            mfa_enabled,
            created_at: to_time(record.created_at)?,
        })
    }

    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<User> {
        let record = self.new_principal(
            PrincipalKind::User,
            &request.name,
            request.display_name.as_ref(),
        )?;
        validate_password("password", request.password.expose())?;
        let record = PrincipalRecord {
            password_hash: Some(self.hash_password(&request.password).await?),
            ..record
        };
        self.store.insert_principal(&record).await?;
        self.user_view(record).await
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let mut users = Vec::new();
        for record in self
            .store
            .list_principals(PrincipalKind::User.as_str())
            .await?
        {
            users.push(self.user_view(record).await?);
        }
        Ok(users)
    }

    pub async fn get_user(&self, reference: &str) -> Result<User> {
        let record = self.find_principal(reference, PrincipalKind::User).await?;
        self.user_view(record).await
    }

    /// Disabling ends every session of the user at once.
    pub async fn set_user_enabled(
        &self,
        caller: &Caller,
        reference: &str,
        enabled: bool,
    ) -> Result<User> {
        let record = self.find_principal(reference, PrincipalKind::User).await?;
        if !enabled && record.id == caller.principal_id {
            return Err(Error::Conflict(
                "you cannot disable your own account".into(),
            ));
        }
        self.store
            .set_principal_enabled(record.id, enabled, self.now_unix())
            .await?;
        self.get_user(&record.id.to_string()).await
    }

    pub async fn delete_user(&self, caller: &Caller, reference: &str) -> Result<()> {
        let record = self.find_principal(reference, PrincipalKind::User).await?;
        if record.id == caller.principal_id {
            return Err(Error::Conflict("you cannot delete your own account".into()));
        }
        Ok(self.store.delete_principal(record.id).await?)
    }

    /// Removes a user's second factor, e.g. after a lost phone. They enrol again at next sign-in.
    pub async fn reset_user_mfa(&self, reference: &str) -> Result<()> {
        let record = self.find_principal(reference, PrincipalKind::User).await?;
        if !self.store.delete_totp(record.id).await? {
            return Err(Error::NotFound(format!(
                "second factor of user '{reference}'"
            )));
        }
        Ok(())
    }

    pub async fn begin_totp_enrollment(&self, caller: &Caller) -> Result<TotpEnrollment> {
        if caller.kind != PrincipalKind::User {
            return Err(Error::invalid(
                "principal",
                "only users enrol a second factor",
            ));
        }
        if self
            .store
            .totp_factor(caller.principal_id)
            .await?
            .is_some_and(|f| f.confirmed)
        {
            return Err(Error::Conflict(
                "a second factor is already enrolled; an administrator can reset it with `casemate user mfa reset`".into(),
            ));
        }
        let secret = casemate_crypto::totp::new_secret()?;
        let sealed = self
            .root_key
            .wrap(&secret, &totp_context(caller.principal_id))?;
        self.store
            .put_pending_totp(caller.principal_id, &sealed, self.now_unix())
            .await?;
        let (uri, base32) = casemate_crypto::totp::provisioning(&secret, &caller.name)?;
        Ok(TotpEnrollment {
            otpauth_uri: Sensitive::new(uri.as_str()),
            secret: Sensitive::new(base32.as_str()),
        })
    }

    pub async fn confirm_totp_enrollment(&self, caller: &Caller, code: &Sensitive) -> Result<()> {
        let factor = self
            .store
            .totp_factor(caller.principal_id)
            .await?
            .filter(|f| !f.confirmed)
            .ok_or_else(|| {
                Error::Conflict("no second-factor enrolment is in progress; start one first".into())
            })?;
        let secret = self
            .root_key
            .unwrap(&factor.sealed_secret, &totp_context(caller.principal_id))?;
        let unix = u64::try_from(self.now_unix()).map_err(Error::internal)?;
        let step = casemate_crypto::totp::verify(&secret, code.expose(), unix, factor.last_step)?
            .ok_or_else(|| {
            Error::invalid(
                "code",
                "is not the current code of the enrolled authenticator, or was used already: \
                 each code is accepted once, so wait for the next one",
            )
        })?;
        if !self
            .store
            .accept_totp_step(caller.principal_id, step)
            .await?
        {
            return Err(Error::invalid(
                "code",
                "was used already: each code is accepted once, so wait for the next one",
            ));
        }
        Ok(())
    }

    async fn service_principal_view(&self, record: PrincipalRecord) -> Result<ServicePrincipal> {
        let secrets = self
            .store
            .client_secrets_for(record.id)
            .await?
            .into_iter()
            .map(secret_info)
            .collect::<Result<Vec<_>>>()?;
        Ok(ServicePrincipal {
            object_id: record.id,
            client_id: record
                .client_id
                .ok_or_else(|| Error::internal("service principal without client id"))?,
            name: record.name,
            display_name: record.display_name,
            enabled: record.enabled,
            created_at: to_time(record.created_at)?,
            secrets,
        })
    }

    pub async fn create_service_principal(
        &self,
        request: &CreateServicePrincipalRequest,
    ) -> Result<ServicePrincipal> {
        let record = PrincipalRecord {
            client_id: Some(Uuid::new_v4()),
            ..self.new_principal(
                PrincipalKind::ServicePrincipal,
                &request.name,
                request.display_name.as_ref(),
            )?
        };
        self.store.insert_principal(&record).await?;
        self.service_principal_view(record).await
    }

    pub async fn list_service_principals(&self) -> Result<Vec<ServicePrincipal>> {
        let mut out = Vec::new();
        for record in self
            .store
            .list_principals(PrincipalKind::ServicePrincipal.as_str())
            .await?
        {
            out.push(self.service_principal_view(record).await?);
        }
        Ok(out)
    }

    pub async fn get_service_principal(&self, reference: &str) -> Result<ServicePrincipal> {
        let record = self
            .find_principal(reference, PrincipalKind::ServicePrincipal)
            .await?;
        self.service_principal_view(record).await
    }

    pub async fn delete_service_principal(&self, reference: &str) -> Result<()> {
        let record = self
            .find_principal(reference, PrincipalKind::ServicePrincipal)
            .await?;
        Ok(self.store.delete_principal(record.id).await?)
    }

    /// Adds a secret; the old ones keep working until removed or expired, so rotation needs no downtime.
    pub async fn add_client_secret(
        &self,
        reference: &str,
        request: &AddClientSecretRequest,
    ) -> Result<ClientSecretCreated> {
        let record = self
            .find_principal(reference, PrincipalKind::ServicePrincipal)
            .await?;
        let lifetime = days_in_range("expires_in_days", request.expires_in_days, 180, 730)?;
        if let Some(description) = &request.description {
            validate_label("description", description)?;
        }
        let credential = opaque::mint(opaque::CLIENT_SECRET_PREFIX)?;
        let now = self.now_unix();
        let secret = ClientSecretRecord {
            id: credential.id,
            principal_id: record.id,
            secret_hash: credential.secret_hash.to_vec(),
            hint: opaque::hint(&credential.token),
            description: request.description.clone(),
            created_at: now,
            expires_at: now + lifetime,
        };
        self.store.insert_client_secret(&secret).await?;
        Ok(ClientSecretCreated {
            info: secret_info(secret)?,
            client_id: record
                .client_id
                .ok_or_else(|| Error::internal("service principal without client id"))?,
            secret: credential.token,
        })
    }

    pub async fn remove_client_secret(&self, reference: &str, secret_id: Uuid) -> Result<()> {
        let record = self
            .find_principal(reference, PrincipalKind::ServicePrincipal)
            .await?;
        Ok(self
            .store
            .delete_client_secret(record.id, secret_id)
            .await?)
    }

    pub async fn create_pat(
        &self,
        caller: &Caller,
        request: &CreatePatRequest,
    ) -> Result<PatCreated> {
        if caller.kind != PrincipalKind::User {
            return Err(Error::invalid(
                "principal",
                "only users hold personal access tokens",
            ));
        }
        if matches!(caller.credential, Credential::PersonalAccessToken { .. }) {
            return Err(Error::ForbiddenOther(
                "a personal access token cannot create another; sign in with a password".into(),
            ));
        }
        validate_label("name", &request.name)?;
        let lifetime = days_in_range("expires_in_days", request.expires_in_days, 30, 365)?;
        let credential = opaque::mint(opaque::PERSONAL_ACCESS_TOKEN_PREFIX)?;
        let now = self.now_unix();
        let record = PatRecord {
            id: credential.id,
            principal_id: caller.principal_id,
            name: request.name.clone(),
            secret_hash: credential.secret_hash.to_vec(),
            created_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        };
        self.store.insert_pat(&record).await?;
        Ok(PatCreated {
            info: pat_view(record)?,
            token: credential.token,
        })
    }

    pub async fn list_pats(&self, caller: &Caller) -> Result<Vec<PersonalAccessToken>> {
        self.store
            .pats_for(caller.principal_id)
            .await?
            .into_iter()
            .map(pat_view)
            .collect()
    }

    pub async fn revoke_pat(&self, caller: &Caller, token_id: Uuid) -> Result<()> {
        Ok(self
            .store
            .revoke_pat(caller.principal_id, token_id, self.now_unix())
            .await?)
    }
}

fn secret_info(record: ClientSecretRecord) -> Result<ClientSecretInfo> {
    Ok(ClientSecretInfo {
        secret_id: record.id,
        hint: record.hint,
        description: record.description,
        created_at: to_time(record.created_at)?,
        expires_at: to_time(record.expires_at)?,
    })
}

fn pat_view(record: PatRecord) -> Result<PersonalAccessToken> {
    Ok(PersonalAccessToken {
        token_id: record.id,
        name: record.name,
        created_at: to_time(record.created_at)?,
        expires_at: to_time(record.expires_at)?,
        revoked: record.revoked_at.is_some(),
    })
}

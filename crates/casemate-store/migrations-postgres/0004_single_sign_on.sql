-- Single sign-on through an OpenID provider.
--
-- sso_sign_ins: one row per sign-in begun and not yet finished, keyed by the SHA-256 of its
-- `state`, and taken (deleted) by the callback that presents it, so a state works once. The
-- browser that began it holds a random binding value in a cookie; only its SHA-256 is here, and
-- the PKCE verifier is derived from it, so these rows alone cannot finish a sign-in.
CREATE TABLE sso_sign_ins (
    state_hash   BYTEA PRIMARY KEY,
    binding_hash BYTEA NOT NULL,
    nonce        TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX sso_sign_ins_by_age ON sso_sign_ins (created_at);

-- external_identities: the provider's subject that signs in as a casemate user.
CREATE TABLE external_identities (
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_by_principal ON external_identities (principal_id);

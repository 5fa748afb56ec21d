-- `casemate login --sso --device` (RFC 8628's device flow through the server): the server asks
-- the provider for a device code and keeps only its SHA-256 here, so that only a sign-in this
-- server began can be finished at its token endpoint, and only once.
CREATE TABLE sso_device_sign_ins (
    device_code_hash BLOB PRIMARY KEY,
    created_at       INTEGER NOT NULL,   -- Unix seconds
    expires_at       INTEGER NOT NULL    -- Unix seconds: the provider's expires_in, capped
);
CREATE INDEX sso_device_sign_ins_by_expiry ON sso_device_sign_ins (expires_at);

-- `casemate login --sso`: a sign-in begun for the command line names the loopback port the CLI
-- listens on and the SHA-256 challenge of a verifier only the CLI holds. The callback then hands
-- the CLI a one-use code (only its SHA-256 is kept here), which the CLI trades, with the
-- verifier, for a session at the token endpoint (RFC 8252's loopback redirect, with PKCE).
ALTER TABLE sso_sign_ins ADD COLUMN cli_port BIGINT;
ALTER TABLE sso_sign_ins ADD COLUMN cli_challenge TEXT;

CREATE TABLE sso_handoffs (
    code_hash    BYTEA PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    challenge    TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX sso_handoffs_by_age ON sso_handoffs (created_at);

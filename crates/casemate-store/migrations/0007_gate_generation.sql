-- A count of changes to the rows the gate reads on every request, kept by triggers whoever writes
-- (this process, another one, or a person with the sqlite3 shell). A server caches those rows and
-- reads this count once per request, dropping its cache when the count has moved.

INSERT INTO installation (key, value) VALUES ('gate_generation', '0') ON CONFLICT (key) DO NOTHING;

CREATE TRIGGER principals_insert_moves_gate_generation AFTER INSERT ON principals
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER principals_update_moves_gate_generation AFTER UPDATE ON principals
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER principals_delete_moves_gate_generation AFTER DELETE ON principals
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER sessions_insert_moves_gate_generation AFTER INSERT ON sessions
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER sessions_update_moves_gate_generation AFTER UPDATE ON sessions
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER sessions_delete_moves_gate_generation AFTER DELETE ON sessions
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER role_assignments_insert_moves_gate_generation AFTER INSERT ON role_assignments
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER role_assignments_update_moves_gate_generation AFTER UPDATE ON role_assignments
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER role_assignments_delete_moves_gate_generation AFTER DELETE ON role_assignments
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER custom_roles_insert_moves_gate_generation AFTER INSERT ON custom_roles
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER custom_roles_update_moves_gate_generation AFTER UPDATE ON custom_roles
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER custom_roles_delete_moves_gate_generation AFTER DELETE ON custom_roles
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER personal_access_tokens_insert_moves_gate_generation AFTER INSERT ON personal_access_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER personal_access_tokens_update_moves_gate_generation AFTER UPDATE ON personal_access_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER personal_access_tokens_delete_moves_gate_generation AFTER DELETE ON personal_access_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER run_tokens_insert_moves_gate_generation AFTER INSERT ON run_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER run_tokens_update_moves_gate_generation AFTER UPDATE ON run_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER run_tokens_delete_moves_gate_generation AFTER DELETE ON run_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

-- Runs count only when deleted: the gate reads a run's workspace and submitter, which never change.

CREATE TRIGGER runs_delete_moves_gate_generation AFTER DELETE ON runs
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

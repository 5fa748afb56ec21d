-- A count of changes to resources and vault items (secrets, their versions, data keys), kept by
-- triggers whoever writes, like gate_generation (0007). A server keeps those rows for read-only
-- requests and reads this count with the gate's once per request, dropping them when it moved.

INSERT INTO installation (key, value) VALUES ('resource_generation', '0') ON CONFLICT (key) DO NOTHING;

CREATE TRIGGER resources_insert_moves_resource_generation AFTER INSERT ON resources
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER resources_update_moves_resource_generation AFTER UPDATE ON resources
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER resources_delete_moves_resource_generation AFTER DELETE ON resources
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER secrets_insert_moves_resource_generation AFTER INSERT ON secrets
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER secrets_update_moves_resource_generation AFTER UPDATE ON secrets
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER secrets_delete_moves_resource_generation AFTER DELETE ON secrets
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER secret_versions_insert_moves_resource_generation AFTER INSERT ON secret_versions
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER secret_versions_update_moves_resource_generation AFTER UPDATE ON secret_versions
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER secret_versions_delete_moves_resource_generation AFTER DELETE ON secret_versions
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER data_keys_insert_moves_resource_generation AFTER INSERT ON data_keys
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER data_keys_update_moves_resource_generation AFTER UPDATE ON data_keys
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

CREATE TRIGGER data_keys_delete_moves_resource_generation AFTER DELETE ON data_keys
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'resource_generation';
END;

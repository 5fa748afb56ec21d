-- A count of changes to resources and vault items (secrets, their versions, data keys), moved
-- by triggers as gate_generation is (0001): every replica compares it before it trusts the rows
-- it keeps for read-only requests (see gate_cache.rs).

INSERT INTO installation (key, value) VALUES ('resource_generation', '0') ON CONFLICT (key) DO NOTHING;

CREATE FUNCTION moves_resource_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE installation SET value = (CAST(value AS BIGINT) + 1)::text WHERE key = 'resource_generation';
    RETURN NULL;
END;
$$;
CREATE TRIGGER resources_moves_resource_generation AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION moves_resource_generation();
CREATE TRIGGER secrets_moves_resource_generation AFTER INSERT OR UPDATE OR DELETE ON secrets
    FOR EACH STATEMENT EXECUTE FUNCTION moves_resource_generation();
CREATE TRIGGER secret_versions_moves_resource_generation AFTER INSERT OR UPDATE OR DELETE ON secret_versions
    FOR EACH STATEMENT EXECUTE FUNCTION moves_resource_generation();
CREATE TRIGGER data_keys_moves_resource_generation AFTER INSERT OR UPDATE OR DELETE ON data_keys
    FOR EACH STATEMENT EXECUTE FUNCTION moves_resource_generation();

-- Groups: principals of their own kind that hold role assignments for their members, who are
-- added by an administrator or, for single sign-on, follow the provider's group claim at each
-- sign-in.

ALTER TABLE principals DROP CONSTRAINT principals_kind_check;
ALTER TABLE principals ADD CONSTRAINT principals_kind_check
    CHECK (kind IN ('user', 'service_principal', 'managed_identity', 'registry_admin', 'group'));

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    -- 'admin': added by an administrator; 'sso': from the provider's group claim, replaced at
    -- each single sign-on.
    source    TEXT NOT NULL CHECK (source IN ('admin', 'sso')),
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_by_member ON group_members (member_id);
CREATE TRIGGER group_members_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();

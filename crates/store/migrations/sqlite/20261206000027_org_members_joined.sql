-- Lists the users of an organization in the order they joined it (the Users page and its
-- pickers, `GET /users`): a page reads the first entries of this index instead of sorting
-- every member of the organization.
CREATE INDEX org_members_joined ON org_members (organization_id, created_at, user_id);

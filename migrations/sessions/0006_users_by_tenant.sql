-- GET /admin/users pages a tenant's users by id on every shard (WHERE tenant = ? AND id > ?
-- ORDER BY id): this index lets each page seek instead of scanning the tenant's rows.
CREATE INDEX users_by_tenant_id ON users (tenant, id);

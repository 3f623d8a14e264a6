"""Ground-side compute: checking what the nodes computed for tenants."""

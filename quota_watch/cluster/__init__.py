"""Several daemons on one PostgreSQL store: membership, leases, fencing (docs/cluster.md)."""

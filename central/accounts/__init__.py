"""Users, roles and scopes; API tokens; the hash-chained audit log of admin actions."""

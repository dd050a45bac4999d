"""The REST API /api/v1 (django-ninja, OpenAPI), token auth with the console's scopes."""

"""The HTTP edge: errors, request bodies, limits, idempotency, ETags, pages, logs, OpenAPI."""

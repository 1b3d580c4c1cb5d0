"""All ORM models, imported here so Alembic and the mappers see every table."""

from registry.models.audit import AuditEvent
from registry.models.organization import ApiKey, Organization

__all__ = ["ApiKey", "AuditEvent", "Organization"]

"""All ORM models, imported here so Alembic and the mappers see every table."""

from registry.models.audit import AuditEvent
from registry.models.guard import (
    ChangeBase,
    ChangeTick,
    IdempotencyRecord,
    RateLimitSlots,
    SharedAnswer,
)
from registry.models.initiator import DemandPlace, Initiator, Introduction, IntroductionTally, ReportSnapshot
from registry.models.listing import PROGRAM_KIND, Contact, EvaluationRecord, EvaluationTally, Listing
from registry.models.organization import PUBLIC_STATUS, ApiKey, Organization
from registry.models.outbox import OutboxAttempt, OutboxMessage
from registry.models.taxonomy import TaxonomyTerm

__all__ = [
    "PROGRAM_KIND",
    "PUBLIC_STATUS",
    "ApiKey",
    "AuditEvent",
    "ChangeBase",
    "ChangeTick",
    "Contact",
    "DemandPlace",
    "EvaluationRecord",
    "EvaluationTally",
    "IdempotencyRecord",
    "Initiator",
    "Introduction",
    "IntroductionTally",
    "Listing",
    "Organization",
    "OutboxAttempt",
    "OutboxMessage",
    "RateLimitSlots",
    "ReportSnapshot",
    "SharedAnswer",
    "TaxonomyTerm",
]

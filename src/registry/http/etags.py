"""Optimistic concurrency: ETags from a row version, If-Match required on writes."""

import uuid

from registry.http.errors import PreconditionFailed, PreconditionRequired


def etag_for(entity_id: uuid.UUID, version: int) -> str:
    return f'"{entity_id.hex}-{version}"'


def check_if_match(if_match: str | None, entity_id: uuid.UUID, version: int) -> None:
    """Refuse a write that is not based on the current version of the entity. `*` ("any
    version") is not the current one: a write must say which version it was based on."""
    if if_match is None:
        raise PreconditionRequired(
            "Send the ETag you last read in an If-Match header, so concurrent edits are not lost."
        )
    current = etag_for(entity_id, version)
    offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if current not in offered:
        raise PreconditionFailed(
            "The entity changed since you read it; fetch it again and reapply your change.",
            extra={"current_etag": current},
        )

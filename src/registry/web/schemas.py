"""Shapes for the search page's session."""

import uuid
from typing import Annotated

import msgspec

from registry.initiators.schemas import DisplayName
from registry.listings.schemas import Email


class PageSignUp(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The few fields an initiator profile needs; nothing of the search goes into it."""

    display_name: DisplayName
    email: Annotated[Email, msgspec.Meta(description="used only for introductions you ask for")]


class PageSessionRead(msgspec.Struct, kw_only=True):
    initiator_id: uuid.UUID
    max_age_s: Annotated[int, msgspec.Meta(description="how long this browser keeps the session")]

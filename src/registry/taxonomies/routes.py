"""HTTP surface for the controlled vocabularies."""

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import JSONBody, PathParameter
from msgspec import UNSET, UnsetType

from registry.auth.dependencies import require_role
from registry.auth.principal import Role
from registry.http.dependencies import Caller, DbSession
from registry.models import TaxonomyTerm
from registry.taxonomies import service
from registry.taxonomies.vocabulary import FIXED, TAXONOMIES

NamePath = Annotated[str, PathParameter(max_length=40, pattern=r"^[a-z_]+$")]
CodePath = Annotated[str, PathParameter(max_length=60, pattern=r"^[a-z0-9_]+$")]
TermCode = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
TermDescription = Annotated[str, msgspec.Meta(max_length=2000)]


class TaxonomySummary(msgspec.Struct, kw_only=True):
    name: str
    description: str
    extendable: bool
    term_count: int


class TermRead(msgspec.Struct, kw_only=True):
    code: str
    label: str
    description: str | None
    retired: bool
    retired_at: datetime | None


class TaxonomyRead(msgspec.Struct, kw_only=True):
    name: str
    description: str
    extendable: bool
    terms: list[TermRead]


class TermCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: TermCode
    label: Label
    description: TermDescription | None = None


class TermUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    label: Label | UnsetType = UNSET
    description: TermDescription | UnsetType | None = UNSET
    retired: bool | UnsetType = UNSET


def to_read(term: TaxonomyTerm) -> TermRead:
    return TermRead(
        code=term.code,
        label=term.label,
        description=term.description,
        retired=term.retired_at is not None,
        retired_at=term.retired_at,
    )


class TaxonomyController(Controller):
    path = "/taxonomies"
    tags = ["vocabularies"]

    @get("/")
    async def list_taxonomies(self, db_session: DbSession) -> list[TaxonomySummary]:
        """The controlled vocabularies and how many active terms each has."""
        counts = await service.term_counts(db_session)
        return [
            TaxonomySummary(
                name=name, description=text, extendable=name not in FIXED, term_count=counts.get(name, 0)
            )
            for name, text in TAXONOMIES.items()
        ]

    @get("/{name:str}")
    async def get_taxonomy(self, db_session: DbSession, name: NamePath) -> TaxonomyRead:
        """One vocabulary with all its terms (retired ones flagged)."""
        terms = await service.list_terms(db_session, name)
        return TaxonomyRead(
            name=name,
            description=TAXONOMIES[name],
            extendable=name not in FIXED,
            terms=[to_read(t) for t in terms],
        )

    @post("/{name:str}/terms", status_code=201, opt={"idempotent": True})
    async def add_term(
        self, db_session: DbSession, principal: Caller, name: NamePath, data: JSONBody[TermCreate]
    ) -> TermRead:
        """Add a term to an extendable vocabulary (stewards only)."""
        require_role(principal, Role.STEWARD)
        term = await service.add_term(db_session, principal, name, data.code, data.label, data.description)
        return to_read(term)

    @patch("/{name:str}/terms/{code:str}")
    async def update_term(
        self,
        db_session: DbSession,
        principal: Caller,
        name: NamePath,
        code: CodePath,
        data: JSONBody[TermUpdate],
    ) -> TermRead:
        """Relabel, describe, retire or restore a term (stewards only)."""
        require_role(principal, Role.STEWARD)
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
        term = await service.update_term(db_session, principal, name, code, changes)
        return to_read(term)

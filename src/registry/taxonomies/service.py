"""Vocabulary reads, steward edits, and the check every write makes against the vocabularies."""

import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit import service as audit
from registry.auth.principal import Principal
from registry.caching.caches import Caches
from registry.caching.version import Version
from registry.database.base import utcnow
from registry.http.errors import Conflict, InvalidInput, NotFound
from registry.models import TaxonomyTerm
from registry.taxonomies.vocabulary import FIXED, TAXONOMIES


def _require_taxonomy(name: str) -> None:
    if name not in TAXONOMIES:
        raise NotFound(f"No vocabulary {name!r}; known: {', '.join(TAXONOMIES)}.")


async def list_terms(session: AsyncSession, name: str) -> Sequence[TaxonomyTerm]:
    _require_taxonomy(name)
    return (
        await session.scalars(
            select(TaxonomyTerm)
            .where(TaxonomyTerm.taxonomy == name)
            .order_by(TaxonomyTerm.position, TaxonomyTerm.code)
        )
    ).all()


async def term_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(TaxonomyTerm.taxonomy, func.count())
        .where(TaxonomyTerm.retired_at.is_(None))
        .group_by(TaxonomyTerm.taxonomy)
    )
    return {row[0]: row[1] for row in rows}


Term = tuple[str, str, object]  # (taxonomy, code, retired_at)


async def _term_rows(
    session: AsyncSession, wanted: set[str], caches: Caches | None, version: Version | None = None
) -> list[Term]:
    """The terms of the taxonomies wanted: from the app's cache for reads (searches, matches; the
    version moves when a term changes; given, when the caller has read it already), from the
    table for writes."""

    async def every_term() -> tuple[Term, ...]:
        columns = (TaxonomyTerm.taxonomy, TaxonomyTerm.code, TaxonomyTerm.retired_at)
        rows = await session.execute(select(*columns))
        return tuple((r[0], r[1], r[2]) for r in rows)

    if caches is not None:
        if version is None:
            version = await caches.version()
        terms = await caches.memo("vocabulary", "terms", version, every_term, weigh=lambda t: 100 * len(t))
        return [row for row in terms if row[0] in wanted]
    rows = await session.execute(
        select(TaxonomyTerm.taxonomy, TaxonomyTerm.code, TaxonomyTerm.retired_at).where(
            TaxonomyTerm.taxonomy.in_(wanted)
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def check_codes(
    session: AsyncSession,
    fields: Mapping[str, tuple[str, Iterable[str]]],
    *,
    allow_retired: bool = False,
    caches: Caches | None = None,
    version: Version | None = None,
) -> None:
    """Raise one 422 naming every field with unknown (or retired) codes and the allowed codes.

    `fields` maps a field name to (taxonomy, codes given); reads give the app's `caches`."""
    wanted = {taxonomy for taxonomy, codes in fields.values() if codes}
    if not wanted:
        return
    rows = await _term_rows(session, wanted, caches, version)
    active: dict[str, set[str]] = {t: set() for t in wanted}
    retired: dict[str, set[str]] = {t: set() for t in wanted}
    for taxonomy, code, retired_at in rows:
        (retired if retired_at is not None else active)[taxonomy].add(code)
    problems: list[dict[str, object]] = []
    for field, (taxonomy, codes) in fields.items():
        if not codes:
            continue
        allowed = active[taxonomy] | (retired[taxonomy] if allow_retired else set())
        bad = sorted({c for c in codes if c not in allowed})
        if bad:
            problems.append(
                {"field": field, "vocabulary": taxonomy, "unknown": bad, "allowed": sorted(active[taxonomy])}
            )
    if problems:
        detail = "; ".join(
            f"{p['field']}: unknown code(s) {', '.join(p['unknown'])} "  # type: ignore[arg-type]
            f"(allowed: {', '.join(p['allowed'])})"  # type: ignore[arg-type]
            for p in problems
        )
        raise InvalidInput(detail, extra={"errors": problems})


async def check_fields(
    session: AsyncSession,
    values: Mapping[str, object],
    vocabularies: Mapping[str, str],
    *,
    allow_retired: bool = False,
    caches: Caches | None = None,
    version: Version | None = None,
    named: Mapping[str, str] | None = None,
) -> None:
    """`check_codes` for the fields of `values` that a kind's `vocabularies` (field -> taxonomy)
    names: each value a code, a list of codes, or None. Errors name a field as `named` says (a
    search's query parameter), else by its own name."""
    fields: dict[str, tuple[str, Iterable[str]]] = {}
    for field, taxonomy in vocabularies.items():
        if field in values:
            value = values[field]
            codes = [] if value is None else [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
            fields[(named or {}).get(field, field)] = (taxonomy, codes)
    await check_codes(session, fields, allow_retired=allow_retired, caches=caches, version=version)


async def add_term(
    session: AsyncSession, principal: Principal, name: str, code: str, label: str, description: str | None
) -> TaxonomyTerm:
    _require_taxonomy(name)
    if name in FIXED:
        raise Conflict(f"The {name} vocabulary is fixed: the registry's own rules depend on its codes.")
    if await session.get(TaxonomyTerm, (name, code)) is not None:
        raise Conflict(f"{name} already has a term {code!r}; PATCH it instead.")
    term = TaxonomyTerm(taxonomy=name, code=code, label=label, description=description)
    session.add(term)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        "taxonomy_term",
        _term_uuid(name, code),
        owner_organization_id=None,
        changed_fields=["code", "label", "description"],
    )
    return term


async def update_term(
    session: AsyncSession,
    principal: Principal,
    name: str,
    code: str,
    changes: Mapping[str, object],
) -> TaxonomyTerm:
    _require_taxonomy(name)
    term = await session.get(TaxonomyTerm, (name, code), with_for_update=True)
    if term is None:
        raise NotFound(f"{name} has no term {code!r}.")
    changed: list[str] = []
    for field in ("label", "description"):
        if field in changes and getattr(term, field) != changes[field]:
            setattr(term, field, changes[field])
            changed.append(field)
    if "retired" in changes:
        if changes["retired"] and name in FIXED:
            raise Conflict(f"Terms of the fixed {name} vocabulary cannot be retired.")
        retired_at = utcnow() if changes["retired"] else None
        if (term.retired_at is None) != (retired_at is None):
            term.retired_at = retired_at
            changed.append("retired")
    if changed:
        audit.record(
            session,
            principal,
            "update",
            "taxonomy_term",
            _term_uuid(name, code),
            owner_organization_id=None,
            changed_fields=changed,
        )
        await session.flush()
    return term


def _term_uuid(name: str, code: str) -> uuid.UUID:
    # Audit rows key entities by UUID; a name-based UUID gives terms a stable one.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"registry:taxonomy:{name}:{code}")

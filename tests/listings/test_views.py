"""Callers who share a view (the key cached pages and matches are shared by) see the same
listings and contacts under the visibility rules: the view names everything the rules read."""

import itertools
import uuid

from sqlalchemy.dialects import postgresql

from registry.auth.principal import ANONYMOUS, Principal, Role
from registry.listings.visibility import contact_view, contact_visible, listing_view, listing_visible

ORG_A, ORG_B = uuid.uuid4(), uuid.uuid4()
CALLERS = [
    ANONYMOUS,
    Principal(role=Role.FUNDER, key_id=uuid.uuid4()),
    Principal(role=Role.INITIATOR, key_id=uuid.uuid4(), initiator_id=uuid.uuid4()),
    Principal(role=Role.ORGANIZATION, key_id=uuid.uuid4(), organization_id=ORG_A),
    Principal(role=Role.ORGANIZATION, key_id=uuid.uuid4(), organization_id=ORG_A),  # another key
    Principal(role=Role.ORGANIZATION, key_id=uuid.uuid4(), organization_id=ORG_A, organization_verified=True),
    Principal(role=Role.ORGANIZATION, key_id=uuid.uuid4(), organization_id=ORG_B, organization_verified=True),
    Principal(role=Role.STEWARD, key_id=uuid.uuid4()),
    Principal(role=Role.STEWARD, key_id=uuid.uuid4()),
]


class _Contact:
    def __init__(self, visibility: str) -> None:
        self.visibility = visibility


def contacts_seen(principal: Principal) -> tuple[bool, ...]:
    return tuple(
        contact_visible(_Contact(v), principal) for v in ("public", "verified_orgs", "on_introduction")
    )


def listings_seen(principal: Principal) -> str:
    clause = listing_visible(principal).compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    return str(clause)


def test_callers_with_one_view_see_the_same_and_others_do_not() -> None:
    for a, b in itertools.combinations(CALLERS, 2):
        same_rules = listings_seen(a) == listings_seen(b) and contacts_seen(a) == contacts_seen(b)
        assert (listing_view(a) == listing_view(b)) == same_rules, (a, b)
        if contact_view(a) == contact_view(b):  # (stewards keep a view of their own for matches)
            assert contacts_seen(a) == contacts_seen(b), (a, b)
    # Anonymous callers, funders and initiators share the public view.
    assert len({listing_view(p) for p in CALLERS[:3]}) == 1

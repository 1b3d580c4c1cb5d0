"""The HSDS read API's behaviour on the seed data: the base endpoint and profile, filters (each
alone and cumulative), paging limits, ids and errors."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.database.base import utcnow
from registry.hsds import ids, queries
from registry.hsds.profile import PATCHES
from registry.models import Listing, Organization, TaxonomyTerm
from tests.factories import Client
from tests.hsds.conftest import all_pages, get_json

pytestmark = pytest.mark.usefixtures("seeded")


async def public_listings(db: AsyncSession) -> list[Listing]:
    stmt = (
        select(Listing)
        .join(Organization, Organization.id == Listing.organization_id)
        .where(Organization.verification_status == "verified", Listing.archived_at.is_(None))
        .order_by(Listing.name, Listing.id)
    )
    return list((await db.scalars(stmt)).all())


def id_set(items: list[dict[str, object]], key: str = "id") -> set[uuid.UUID]:
    return {uuid.UUID(str(item[key])) for item in items}


async def test_base_endpoint_points_at_the_profile_and_the_openapi_document(client: Client) -> None:
    base = await get_json(client, "/hsds")
    assert base == await get_json(client, "/hsds/")
    assert base["version"] == "3.0"
    assert base["profile"] == "http://registry.test/hsds/profile"
    assert base["openapi_url"] == "http://registry.test/schema/openapi.json"

    profile = await client.get(base["profile"])
    assert profile.status_code == 200 and profile.headers["content-type"].startswith("text/markdown")
    assert "IPV profile" in profile.text and "ipv_location_precision" in profile.text

    openapi = await get_json(client, base["openapi_url"])
    hsds_paths = {path for path in openapi["paths"] if path.startswith("/hsds")}
    for path in (
        "/hsds/services",
        "/hsds/services/{service_id}",
        "/hsds/service_at_locations",
        "/hsds/organizations",
    ):
        assert path in hsds_paths
    parameters = {p["name"] for p in openapi["paths"]["/hsds/service_at_locations"]["get"]["parameters"]}
    assert {"search", "page", "per_page", "full", "minimal", "format", "postcode", "proximity"} <= parameters


async def test_profile_files_are_the_merge_patches(client: Client) -> None:
    for name, patch in PATCHES.items():
        assert await get_json(client, f"/hsds/profile/{name}") == patch
    missing = await client.get("/hsds/profile/phone.json")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_services_are_every_public_listing_ordered_by_name(
    client: Client, seeded: AsyncSession
) -> None:
    listed = await all_pages(client, "/hsds/services")
    public = await public_listings(seeded)
    assert [uuid.UUID(s["id"]) for s in listed] == [x.id for x in public]
    kinds = {s["ipv_listing_kind"] for s in listed}
    assert kinds == {"peer_program", "clinician", "treatment_program", "evaluator", "trainer"}
    statuses = {s["status"] for s in listed}
    assert statuses >= {"active", "inactive", "temporarily closed"}


async def test_search_matches_name_and_description(client: Client) -> None:
    found = await all_pages(client, "/hsds/services", search="accountability")
    assert found
    for service in found:
        assert "accountab" in (service["name"] + service.get("description", "")).lower()


async def test_taxonomy_term_and_taxonomy_filters(client: Client, seeded: AsyncSession) -> None:
    twelve_step = ids.term_id("format", "twelve_step")
    found = await all_pages(client, "/hsds/services", taxonomy_term_id=str(twelve_step), full="true")
    public = [x for x in await public_listings(seeded) if "twelve_step" in x.formats]
    assert id_set(found) == {x.id for x in public} and len(found) >= 3
    for service in found:
        assert str(twelve_step) in {a["taxonomy_term_id"] for a in service["attributes"]}

    with_side = await all_pages(client, "/hsds/services", taxonomy_id=str(ids.taxonomy_id("side")))
    assert {s["ipv_listing_kind"] for s in with_side} == {"peer_program"}
    evaluators = await all_pages(
        client, "/hsds/services", taxonomy_term_id=str(ids.term_id("partner_kind", "evaluator"))
    )
    assert evaluators and {s["ipv_listing_kind"] for s in evaluators} == {"evaluator"}
    outcome = await all_pages(
        client, "/hsds/services", taxonomy_term_id=str(ids.term_id("outcome", "empowerment")), full="true"
    )
    assert outcome
    for service in outcome:
        assert any(m["replacement_value"].find("empowerment") >= 0 for m in service["metadata"])
    spanish = await all_pages(client, "/hsds/services", taxonomy_term_id=str(ids.term_id("language", "es")))
    assert spanish and all(
        "es" in x.languages for x in await public_listings(seeded) if x.id in id_set(spanish)
    )

    unknown = await get_json(client, "/hsds/services", taxonomy_term_id=str(uuid.uuid4()))
    assert unknown["total_items"] == 0 and unknown["empty"] is True
    bad = await client.get("/hsds/services", params={"taxonomy_term_id": "twelve_step"})
    assert bad.status_code == 422 and "taxonomy_term_id" in bad.json()["detail"]


async def test_filters_are_cumulative(client: Client, seeded: AsyncSession) -> None:
    public = await public_listings(seeded)
    org_id = next(x.organization_id for x in public if x.side == "people_who_use_violence")
    survivors = ids.term_id("side", "survivors")
    of_org = await all_pages(client, "/hsds/services", organization_id=str(org_id))
    both = await all_pages(
        client, "/hsds/services", organization_id=str(org_id), taxonomy_term_id=str(survivors)
    )
    assert of_org and {s["organization_id"] for s in of_org} == {str(org_id)}
    assert id_set(both) == {x.id for x in public if x.organization_id == org_id and x.side == "survivors"}
    assert id_set(both) < id_set(of_org)


async def test_modified_after_is_on_or_after(client: Client, seeded: AsyncSession) -> None:
    public = await public_listings(seeded)
    later = utcnow() + timedelta(days=3)
    await seeded.execute(update(Listing).where(Listing.id == public[0].id).values(updated_at=later))
    await seeded.commit()
    for value in (later.isoformat(), later.isoformat().replace("+00:00", "Z")):
        found = await get_json(client, "/hsds/services", modified_after=value, minimal="true")
        assert id_set(found["contents"]) == {public[0].id}
    day = await get_json(client, "/hsds/services", modified_after=later.date().isoformat())
    assert id_set(day["contents"]) == {public[0].id}
    assert (await client.get("/hsds/services", params={"modified_after": "last tuesday"})).status_code == 422


async def test_postcode_and_proximity_filter_but_never_sort_by_distance(
    client: Client, seeded: AsyncSession
) -> None:
    public = await public_listings(seeded)
    denver = await all_pages(client, "/hsds/service_at_locations", postcode="80202", proximity="30000")
    assert denver
    names = [s["service"]["name"] for s in denver]
    assert names == sorted(names, key=str)
    assert all(s["location"]["latitude"] == pytest.approx(39.7, abs=0.5) for s in denver)
    by_point = await all_pages(client, "/hsds/service_at_locations", proximity="39.75,-104.99,30000")
    assert id_set(by_point) == id_set(denver)
    # A postcode alone: the listings whose service area (radius, or 25 km) covers it.
    covered = await all_pages(client, "/hsds/service_at_locations", postcode="80202")
    assert covered and id_set(covered) <= id_set(
        await all_pages(client, "/hsds/service_at_locations", postcode="80202", proximity="500000")
    )
    # Remote listings have no point: proximity never finds them.
    remote = {ids.service_at_location_id(x.id) for x in public if x.latitude is None}
    assert remote and not remote & id_set(by_point)
    for params in (
        {"proximity": "30000"},
        {"postcode": "80202", "proximity": "-5"},
        {"postcode": "00000"},
        {"postcode": "80202", "proximity": "1,2,3"},
        {"proximity": "95,0,1000"},
    ):
        response = await client.get("/hsds/service_at_locations", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_paging_limits_and_variants(client: Client) -> None:
    for params in ({"per_page": 101}, {"page": 0}, {"format": "xml"}, {"full": "true", "minimal": "true"}):
        response = await client.get("/hsds/services", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
    minimal = await get_json(client, "/hsds/services", minimal="true", per_page=3)
    assert all(set(item) == {"id", "name", "status", "last_modified"} for item in minimal["contents"])


async def test_unknown_and_malformed_ids_are_404(client: Client) -> None:
    for path in ("services", "organizations", "service_at_locations", "taxonomies", "taxonomy_terms"):
        for object_id in (str(uuid.uuid4()), "not-a-uuid"):
            response = await client.get(f"/hsds/{path}/{object_id}")
            assert response.status_code == 404, (path, object_id)
            assert response.headers["content-type"].startswith("application/problem+json")


async def test_service_at_location_ids_are_stable_and_resolve(client: Client, seeded: AsyncSession) -> None:
    listing = (await public_listings(seeded))[3]
    sal_id = ids.service_at_location_id(listing.id)
    body = await get_json(client, f"/hsds/service_at_locations/{sal_id}")
    assert body["service_id"] == str(listing.id) and body["service"]["id"] == str(listing.id)
    assert body["location_id"] == body["location"]["id"] == str(ids.location_id(listing.id))
    service = await get_json(client, f"/hsds/services/{listing.id}")
    assert service["service_at_locations"][0]["id"] == str(sal_id)


async def test_organizations_are_the_verified_ones_with_their_public_services(
    client: Client, seeded: AsyncSession
) -> None:
    orgs = await all_pages(client, "/hsds/organizations")
    verified = (
        await seeded.scalars(select(Organization.id).where(Organization.verification_status == "verified"))
    ).all()
    assert id_set(orgs) == set(verified)
    org = next(o for o in orgs if o["name"].startswith("Harbor Circle"))
    plain = await get_json(client, f"/hsds/organizations/{org['id']}")
    full = await get_json(client, f"/hsds/organizations/{org['id']}", full_service="true")
    assert [s["id"] for s in plain["services"]] == [s["id"] for s in full["services"]]
    assert "attributes" not in plain["services"][0] and "attributes" in full["services"][0]
    assert {a["taxonomy_term"]["code"] for a in plain["attributes"]} == {"peer_program"}
    assert plain["metadata"][0]["field_name"] == "verification_status"
    found = await get_json(client, "/hsds/organizations", search="harbor")
    assert [o["id"] for o in found["contents"]] == [org["id"]]


async def test_taxonomies_and_terms_are_the_vocabularies(client: Client, seeded: AsyncSession) -> None:
    taxonomies = await all_pages(client, "/hsds/taxonomies")
    assert {t["name"] for t in taxonomies} >= {
        "side",
        "format",
        "population",
        "partner_kind",
        "evaluation_stage",
    }
    terms = await all_pages(client, "/hsds/taxonomy_terms")
    assert len(terms) == await seeded.scalar(select(func.count()).select_from(TaxonomyTerm))
    formats = await all_pages(
        client, "/hsds/taxonomy_terms", taxonomy_id=str(ids.taxonomy_id("format")), full="true"
    )
    assert formats and {t["taxonomy"] for t in formats} == {"format"}
    assert all(t["taxonomy_detail"]["name"] == "format" for t in formats)
    assert (await get_json(client, "/hsds/taxonomy_terms", parent_id=str(uuid.uuid4())))["total_items"] == 0
    assert (await get_json(client, "/hsds/taxonomy_terms", top_only="true"))["total_items"] == len(terms)
    searched = await get_json(client, "/hsds/taxonomy_terms", search="12-step")
    assert [t["code"] for t in searched["contents"]] == ["twelve_step"]
    searched_taxonomies = await get_json(client, "/hsds/taxonomies", search="evaluation")
    assert {t["name"] for t in searched_taxonomies["contents"]} == {
        "evaluation_stage",
        "evaluation_design",
        "outcome",  # "Outcomes an evaluation measures"
    }
    one = await get_json(client, f"/hsds/taxonomy_terms/{ids.term_id('side', 'both')}")
    assert one["code"] == "both" and one["taxonomy_id"] == str(ids.taxonomy_id("side"))
    # The ids are the ones the audit log already gives terms.
    from registry.taxonomies.service import _term_uuid

    assert ids.term_id("side", "both") == _term_uuid("side", "both")


async def test_retired_terms_stay_listed_and_marked(client: Client, seeded: AsyncSession) -> None:
    await seeded.execute(
        update(TaxonomyTerm)
        .where(TaxonomyTerm.taxonomy == "population", TaxonomyTerm.code == "rural")
        .values(retired_at=utcnow())
    )
    await seeded.commit()
    term = await get_json(client, f"/hsds/taxonomy_terms/{ids.term_id('population', 'rural')}")
    assert term["ipv_retired"] is True


async def test_pages_follow_changes_to_the_directory(client: Client, seeded: AsyncSession) -> None:
    """Pages are slices of an order kept for the data's version: a rename, an archived listing and
    a hidden organization show on the next request, on the first page and the last."""
    public = await public_listings(seeded)
    before = await get_json(client, "/hsds/services", per_page=2, minimal="true")
    assert before["total_items"] == len(public)
    renamed, archived = public[-1], public[0]
    hidden_org = next(x.organization_id for x in public if x.organization_id != renamed.organization_id)
    await seeded.execute(update(Listing).where(Listing.id == renamed.id).values(name="Aaaa, first by name"))
    await seeded.execute(update(Listing).where(Listing.id == archived.id).values(archived_at=utcnow()))
    await seeded.execute(
        update(Organization).where(Organization.id == hidden_org).values(verification_status="pending")
    )
    await seeded.commit()
    now_public = [x.id for x in await public_listings(seeded)]
    assert now_public[0] == renamed.id and archived.id not in now_public
    after = await get_json(client, "/hsds/services", per_page=2, minimal="true")
    assert after["total_items"] == len(now_public) < len(public) - 1
    assert [uuid.UUID(s["id"]) for s in after["contents"]] == now_public[:2]
    assert [uuid.UUID(s["id"]) for s in await all_pages(client, "/hsds/services")] == now_public
    at_locations = await all_pages(client, "/hsds/service_at_locations", minimal="true")
    assert [uuid.UUID(s["service_id"]) for s in at_locations] == now_public


async def test_a_page_reads_its_services_through_the_public_rule(seeded: AsyncSession) -> None:
    """Whatever ids a page asks for, only public services come back (an order kept from before a
    change cannot show a listing archived since)."""
    public = await public_listings(seeded)
    await seeded.execute(update(Listing).where(Listing.id == public[1].id).values(archived_at=utcnow()))
    found = await queries.services_by_id(seeded, [public[2].id, public[1].id, public[0].id], details=False)
    assert [s.id for s in found] == [public[0].id, public[2].id]

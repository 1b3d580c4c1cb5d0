"""An HSDS service (fully nested, as /services/{id} answers) -> what the program services accept.
Pure: the database work is the importer's.

What cannot be mapped either makes the record unmappable (`Unmappable`, with the reason) or is
left out with a note; see profile.md ("Importing") for the full list."""

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import msgspec

from registry.auth.principal import ANONYMOUS
from registry.hsds import ids
from registry.hsds.mapping import (
    EVALUATION_DETAILS,
    HSDS_TO_STATUS,
    WEEKDAYS,
    Term,
    Vocabulary,
    clean,
)
from registry.http.errors import InvalidInput
from registry.listings.location import StoredLocation, to_stored
from registry.listings.schemas import ContactInput, LocationInput
from registry.listings.visibility import contact_visible
from registry.models import PROGRAM_KIND, Contact
from registry.programs.service import default_precision

MAX_CONTACTS = 20
PRECISIONS = ("exact", "area", "remote")
_DAYS = {ical: code for code, ical in WEEKDAYS.items()}
_FREQUENCIES = {("WEEKLY", 1): "weekly", ("WEEKLY", 2): "biweekly", ("MONTHLY", 1): "monthly"}
_SCHEDULE_FREQUENCIES = ("weekly", "biweekly", "monthly", "irregular")
# Vocabularies that describe partners or evaluations, not a program's own attributes.
_NOT_FOR_PROGRAMS = ("specialty", "evaluation_design")

# ISO 639-2/3 -> the ISO 639-1 codes (and ASL) of the registry's language vocabulary.
ISO_639_3: dict[str, str] = {
    "eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "nld": "nl",
    "dut": "nl", "por": "pt", "ita": "it", "pol": "pl", "ron": "ro", "rum": "ro", "swe": "sv",
    "dan": "da", "nor": "no", "nob": "no", "nno": "no", "fin": "fi", "ell": "el", "gre": "el",
    "tur": "tr", "ara": "ar", "fas": "fa", "per": "fa", "urd": "ur", "hin": "hi", "ben": "bn",
    "pan": "pa", "tam": "ta", "zho": "zh", "chi": "zh", "cmn": "zh", "jpn": "ja", "kor": "ko",
    "vie": "vi", "tgl": "tl", "fil": "tl", "tha": "th", "ind": "id", "msa": "ms", "may": "ms",
    "zsm": "ms", "swa": "sw", "swh": "sw", "amh": "am", "som": "so", "yor": "yo", "hau": "ha",
    "zul": "zu", "afr": "af", "rus": "ru", "ukr": "uk", "heb": "he", "hat": "ht", "ase": "asl",
}  # fmt: skip


class Unmappable(ValueError):
    """A record the registry cannot hold, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAProgram(Unmappable):
    """A partner listing (clinician, evaluator ...): this importer brings in peer programs only."""


@dataclass(frozen=True, kw_only=True)
class OrganizationDraft:
    id: uuid.UUID
    hsds_id: str
    name: str | None = None
    description: str | None = None
    website: str | None = None


@dataclass(kw_only=True)
class ProgramDraft:
    listing_id: uuid.UUID
    organization: OrganizationDraft
    # The fields of ProgramCreate / ProgramUpdate, every one present (None or [] clears it).
    body: dict[str, Any]
    # EvaluationCreate bodies from the record's evaluation history, oldest first.
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    # The evaluation stage the record gives the program (attribute, else the history's last).
    stage: str | None = None
    notes: list[str] = field(default_factory=list)
    # When the source last confirmed the record (HSDS assured_date): a new listing keeps it, so a
    # record not confirmed for a year arrives stale.
    assured_on: date | None = None


def _date(value: Any, notes: list[str]) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        notes.append(f"assured_date {value!r}: not a date, left out")
        return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _cut(text: str | None, limit: int, what: str, notes: list[str]) -> str | None:
    if text is not None and len(text) > limit:
        notes.append(f"{what}: longer than {limit} characters, shortened")
        return text[: limit - 1] + "…"
    return text


# --- terms -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lookups:
    """What the mapping looks terms up by, made once per vocabulary."""

    vocab: Vocabulary
    # str(term id) -> term: a term id as written (in its usual form) needs no parsing.
    by_text: dict[str, Term]
    # The codes of the active terms of the language vocabulary.
    languages: frozenset[str]


_lookups: _Lookups | None = None


def _lookups_of(vocab: Vocabulary) -> _Lookups:
    global _lookups
    found = _lookups
    if found is None or found.vocab is not vocab:
        found = _lookups = _Lookups(
            vocab=vocab,
            by_text={str(term_id): term for term_id, term in vocab.by_id.items()},
            languages=frozenset(
                c
                for (taxonomy, c), term in vocab.terms.items()
                if taxonomy == "language" and not term.retired
            ),
        )
    return found


def _find_term(attribute: dict[str, Any], vocab: Vocabulary) -> Term | None:
    nested = _obj(attribute.get("taxonomy_term"))
    by_text = _lookups_of(vocab).by_text
    for candidate in (attribute.get("taxonomy_term_id"), nested.get("id")):
        if not candidate:
            continue
        text = str(candidate)
        if (term := by_text.get(text)) is not None:
            return term
        term_id = ids.parse_id(text)
        if term_id is not None and term_id in vocab.by_id:
            return vocab.by_id[term_id]
    code = _text(nested.get("code"))
    detail = _obj(nested.get("taxonomy_detail"))
    for taxonomy in (nested.get("taxonomy"), detail.get("name"), attribute.get("link_type")):
        if code and isinstance(taxonomy, str) and (taxonomy, code) in vocab.terms:
            return vocab.terms[(taxonomy, code)]
    return None


def attribute_terms(
    attributes: Iterable[dict[str, Any]], vocab: Vocabulary, notes: list[str]
) -> dict[str, list[str]]:
    """taxonomy -> codes, in the record's order, of the attributes that are registry terms."""
    found: dict[str, list[str]] = {}
    for attribute in attributes:
        term = _find_term(attribute, vocab)
        if term is None:
            nested = _obj(attribute.get("taxonomy_term"))
            label = nested.get("name") or nested.get("code") or attribute.get("taxonomy_term_id") or "?"
            notes.append(f"attribute {label!r}: not a term of this registry's vocabularies, left out")
            continue
        if term.retired:
            notes.append(f"attribute {term.taxonomy}:{term.code}: a retired term, left out")
            continue
        codes = found.setdefault(term.taxonomy, [])
        if term.code not in codes:
            codes.append(term.code)
    return found


def _one(codes: list[str], what: str, notes: list[str]) -> str | None:
    if len(codes) > 1:
        notes.append(f"{what}: several terms given ({', '.join(codes)}), kept {codes[0]}")
    return codes[0] if codes else None


def language_code(code: str | None, name: str | None, vocab: Vocabulary) -> str | None:
    active = _lookups_of(vocab).languages
    if code:
        lowered = code.strip().lower().replace("_", "-")
        for candidate in (lowered, lowered.split("-")[0], ISO_639_3.get(lowered.split("-")[0], "")):
            if candidate in active:
                return candidate
    if name:
        wanted = name.strip().casefold()
        for (taxonomy, c), term in vocab.terms.items():
            if taxonomy == "language" and c in active and term.label.casefold() == wanted:
                return c
    return None


def _languages(
    record: dict[str, Any], from_terms: list[str], vocab: Vocabulary, notes: list[str]
) -> list[str]:
    codes = list(from_terms)
    for language in _dicts(record.get("languages")):
        code = language_code(_text(language.get("code")), _text(language.get("name")), vocab)
        if code is None:
            label = language.get("name") or language.get("code")
            notes.append(f"language {label!r}: not in this registry's language vocabulary, left out")
        elif code not in codes:
            codes.append(code)
    return sorted(codes)


# --- location ----------------------------------------------------------------------------------


def _locations(record: dict[str, Any]) -> list[dict[str, Any]]:
    found = [
        sal["location"]
        for sal in _dicts(record.get("service_at_locations"))
        if isinstance(sal.get("location"), dict)
    ]
    return found


def _address(location: dict[str, Any]) -> dict[str, Any] | None:
    addresses = _dicts(location.get("addresses"))
    physical = [a for a in addresses if a.get("address_type") in (None, "physical")]
    found = physical or addresses
    return found[0] if found else None


def _address_line(address: dict[str, Any] | None) -> str | None:
    if address is None:
        return None
    return (
        ", ".join(p for p in (_text(address.get("address_1")), _text(address.get("address_2"))) if p) or None
    )


def _place_texts(location: dict[str, Any], address: dict[str, Any] | None) -> list[str]:
    texts: list[str] = []
    if address is not None:
        city = _text(address.get("city"))
        region = _text(address.get("state_province")) or _text(address.get("region"))
        country = _text(address.get("country"))
        if city and region and country:
            texts.append(f"{city}, {region}, {country}")
        if city and country:
            texts.append(f"{city}, {country}")
    name = _text(location.get("name"))
    if name and "," in name:
        # This registry names an area location "Locality, Region, CC" (profile.md).
        parts = [p.strip() for p in name.split(",")]
        texts.extend([name, f"{parts[0]}, {parts[-1]}"])
    return list(dict.fromkeys(texts))


def _candidates(
    location: dict[str, Any], precision: str, latitude: float | None, longitude: float | None
) -> list[dict[str, Any]]:
    """Ways of telling the registry where the listing is, most faithful first."""
    address = _address(location)
    line = _address_line(address) if precision == "exact" else None
    with_line = {"address": line} if line else {}
    candidates: list[dict[str, Any]] = []
    postal_code = _text(address.get("postal_code")) if address else None
    if postal_code:
        candidates.append({"postal_code": postal_code, **with_line})
    candidates.extend({"place": text} for text in _place_texts(location, address))
    if latitude is not None and longitude is not None:
        candidates.append({"latitude": latitude, "longitude": longitude, **with_line})
    return candidates


def _to_stored(candidate: dict[str, Any], precision: str) -> StoredLocation | None:
    try:
        return to_stored(msgspec.convert(candidate, LocationInput), precision)
    except (InvalidInput, msgspec.ValidationError):
        return None


@functools.lru_cache(maxsize=1 << 16)
def _to_stored_kept(precision: str, items: tuple[tuple[str, Any], ...]) -> StoredLocation | None:
    return _to_stored(dict(items), precision)


def stored_location(candidate: dict[str, Any], precision: str) -> StoredLocation | None:
    """What the registry stores for a location body at a precision (`to_stored`), None if it cannot
    place it. Kept for the last places asked: records name the same places (a city, a ZIP code, a
    grid cell's centre) over and over, and the importer asks again for the one chosen."""
    items = tuple(candidate.items())
    if any(isinstance(value, float) and value == 0 for _, value in items):
        return _to_stored(candidate, precision)  # 0.0 and -0.0 would share a key
    try:
        return _to_stored_kept(precision, items)
    except TypeError:  # not hashable
        return _to_stored(candidate, precision)


def _stored_point(candidate: dict[str, Any], precision: str) -> tuple[float | None, float | None] | None:
    stored = stored_location(candidate, precision)
    return None if stored is None else (stored.latitude, stored.longitude)


def _same_point(a: tuple[float | None, float | None], b: tuple[float, float]) -> bool:
    return a[0] is not None and a[1] is not None and abs(a[0] - b[0]) < 1e-6 and abs(a[1] - b[1]) < 1e-6


def choose_location(
    record: dict[str, Any], side: str, delivery: str, notes: list[str]
) -> tuple[dict[str, Any] | None, str]:
    """(LocationInput body or None, location_precision).

    The registry stores a location from a ZIP code, a "City, CC" place or a point, and for `area`
    keeps only a coarse point. Of the forms the record allows, the one whose stored point is the
    record's point wins: re-importing this registry's own export then stores exactly what it had."""
    locations = _locations(record)
    physical = [loc for loc in locations if loc.get("location_type") != "virtual"]
    if len(physical) > 1:
        notes.append(f"{len(physical)} locations: a listing has one place, kept the first")
    candidates_found = physical or locations
    chosen = candidates_found[0] if candidates_found else None
    hint = chosen.get("ipv_location_precision") if chosen else None
    if chosen is None:
        if delivery == "online":
            return None, "remote"
        raise Unmappable(
            "no location: give one with coordinates or an address, or deliver the program online"
        )
    latitude, longitude = _number(chosen.get("latitude")), _number(chosen.get("longitude"))
    if latitude is None or longitude is None:
        latitude = longitude = None
    precision = hint if hint in PRECISIONS else None
    if precision is None:
        virtual = chosen.get("location_type") == "virtual"
        precision = "remote" if virtual else default_precision(side, delivery, has_location=True)
    candidates = _candidates(chosen, precision, latitude, longitude)
    if not candidates and precision == "remote":
        return None, "remote"
    fallback: dict[str, Any] | None = None
    for candidate in candidates:
        point = _stored_point(candidate, precision)
        if point is None:
            continue
        if latitude is None or longitude is None or _same_point(point, (latitude, longitude)):
            return candidate, precision
        fallback = fallback or candidate
    if latitude is not None and longitude is not None:
        point_candidate = candidates[-1]
        if _stored_point(point_candidate, precision) is not None:
            return point_candidate, precision
    if fallback is not None:
        return fallback, precision
    if precision == "remote":
        notes.append("location: could not be read, kept as remote without a home area")
        return None, "remote"
    raise Unmappable("location: no coordinates, US ZIP code or known 'City, CC' to place it by")


# --- contacts, schedule, evaluations -----------------------------------------------------------


def _contact(body: dict[str, Any], what: str, notes: list[str]) -> dict[str, Any] | None:
    if not (body.get("email") or body.get("phone")):
        notes.append(f"{what}: no email or phone, left out")
        return None
    if not (body.get("name") or body.get("role")):
        body["role"] = "Contact"
    body = clean(body)
    try:
        msgspec.convert(body, ContactInput)
    except msgspec.ValidationError as exc:
        notes.append(f"{what}: {exc}, left out")
        return None
    return body


def contacts(record: dict[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    """The record's contacts, as public contacts (they were public in the source)."""
    found: list[dict[str, Any]] = []
    for position, item in enumerate(_dicts(record.get("contacts"))):
        numbers = [_text(p.get("number")) for p in _dicts(item.get("phones"))]
        numbers = [n for n in numbers if n]
        label = f"contacts[{position}]"
        if len(numbers) > 1:
            notes.append(f"{label}: {len(numbers)} phones, kept the first")
        preferred = item.get("ipv_preferred_method")
        body = {
            "name": _text(item.get("name")),
            "role": _text(item.get("title")) or _text(item.get("department")),
            "email": _text(item.get("email")),
            "phone": numbers[0] if numbers else None,
            "preferred_method": preferred if preferred in ("email", "phone") else None,
            "visibility": "public",
        }
        if (contact := _contact(body, label, notes)) is not None:
            found.append(contact)
    for position, phone in enumerate(_dicts(record.get("phones"))):
        body = {
            "role": _text(phone.get("description")) or "Phone",
            "phone": _text(phone.get("number")),
            "visibility": "public",
        }
        if (contact := _contact(body, f"phones[{position}]", notes)) is not None:
            found.append(contact)
    email = _text(record.get("email"))
    service_email = {"role": "Email", "email": email, "visibility": "public"}
    if email and (contact := _contact(service_email, "email", notes)) is not None:
        found.append(contact)
    if len(found) > MAX_CONTACTS:
        notes.append(f"{len(found)} contacts: kept the first {MAX_CONTACTS}")
    return found[:MAX_CONTACTS]


def merge_contacts(existing: Sequence[Contact], imported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Imported contacts take the places of the listing's public ones; the contacts the source
    could not see (verified_orgs, on_introduction) stay where they are."""
    queue = list(imported)
    merged: list[dict[str, Any]] = []
    for contact in existing:
        if contact_visible(contact, ANONYMOUS):  # what the export showed
            if queue:
                merged.append(queue.pop(0))
            continue
        merged.append(
            clean(
                {
                    "name": contact.name,
                    "role": contact.role,
                    "email": contact.email,
                    "phone": contact.phone,
                    "preferred_method": contact.preferred_method,
                    "visibility": contact.visibility,
                }
            )
        )
    return merged + queue


def schedule(record: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    schedules = _dicts(record.get("schedules"))
    if not schedules:
        return None
    if len(schedules) > 1:
        notes.append(f"{len(schedules)} schedules: kept the first")
    first = schedules[0]
    frequency = first.get("ipv_frequency")
    if frequency not in _SCHEDULE_FREQUENCIES:
        interval = _number(first.get("interval"))
        frequency = _FREQUENCIES.get((str(first.get("freq") or "").upper(), int(interval or 1)))
    weekdays = first.get("ipv_weekdays")
    if not (isinstance(weekdays, list) and all(day in WEEKDAYS for day in weekdays)):
        byday = str(first.get("byday") or "")
        weekdays = [
            _DAYS[part.strip().upper()[-2:]]
            for part in byday.split(",")
            if part.strip().upper()[-2:] in _DAYS
        ]
    text = _cut(_text(first.get("description")), 500, "schedule description", notes)
    if not (text or weekdays or frequency):
        return None
    return {"text": text, "weekdays": list(dict.fromkeys(weekdays)), "frequency": frequency}


def _detail(entry: dict[str, str], name: str, value: str, notes: list[str]) -> None:
    key = name.removeprefix("evaluation_")
    if key == "outcomes":
        entry["outcomes"] = [v.strip() for v in value.split(",") if v.strip()]  # type: ignore[assignment]
    elif key == "participant_count":
        try:
            entry["participant_count"] = int(value)  # type: ignore[assignment]
        except ValueError:
            notes.append(f"evaluation participant count {value!r}: not a number, left out")
    elif key == "findings_summary":
        entry["findings_summary"] = value
    else:
        entry[key] = value


def evaluations(record: dict[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    """The evaluation history from the record's metadata: an `evaluation_stage` entry starts a
    record, the `evaluation_*` entries after it are its details (profile.md)."""
    history: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for entry in _dicts(record.get("metadata")):
        name, value = entry.get("field_name"), _text(entry.get("replacement_value"))
        if name == "evaluation_stage" and value:
            current = {"stage": value}
            if entry.get("last_action_type") == "correction":
                current["correction"] = True
            history.append(current)
        elif current is not None and name in EVALUATION_DETAILS and value:
            _detail(current, name, value, notes)
    return history


# --- the record --------------------------------------------------------------------------------


def organization(record: dict[str, Any], notes: list[str]) -> OrganizationDraft:
    nested = _obj(record.get("organization"))
    hsds_id = _text(record.get("organization_id")) or _text(nested.get("id"))
    if hsds_id is None:
        raise Unmappable("no organization_id: a program belongs to an organization")
    website = _text(nested.get("website")) or _text(nested.get("url"))
    if website and not (
        website.startswith(("http://", "https://")) and len(website) <= 500 and " " not in website
    ):
        notes.append(f"organization website {website!r}: not an http(s) URL, left out")
        website = None
    return OrganizationDraft(
        id=ids.imported_id("organization", hsds_id),
        hsds_id=hsds_id,
        name=_text(nested.get("name")),
        description=_cut(_text(nested.get("description")), 5000, "organization description", notes),
        website=website,
    )


def _kind(record: dict[str, Any], terms: dict[str, list[str]]) -> str:
    kinds = terms.get("partner_kind") or []
    if not kinds and isinstance(record.get("ipv_listing_kind"), str):
        kinds = [record["ipv_listing_kind"]]
    if kinds and PROGRAM_KIND not in kinds:
        raise NotAProgram(f"a {kinds[0]} listing: only peer programs are imported")
    return PROGRAM_KIND


def _delivery(record: dict[str, Any], terms: dict[str, list[str]], notes: list[str]) -> str:
    given = _one(terms.get("delivery") or [], "delivery", notes)
    if given:
        return given
    types = {loc.get("location_type") for loc in _locations(record)}
    if "virtual" in types:
        return "hybrid" if types - {"virtual"} else "online"
    return "in_person"


def translate(record: Any, vocab: Vocabulary) -> ProgramDraft:
    """One HSDS service -> a program draft, or Unmappable."""
    if not isinstance(record, dict):
        raise Unmappable("not a JSON object")
    hsds_id = _text(record.get("id"))
    if hsds_id is None:
        raise Unmappable("no id")
    name = _text(record.get("name"))
    if name is None:
        raise Unmappable("no name")
    notes: list[str] = []
    terms = attribute_terms(_dicts(record.get("attributes")), vocab, notes)
    _kind(record, terms)
    side = _one(terms.get("side") or [], "side", notes)
    if side is None:
        raise Unmappable("no side attribute (survivors, people_who_use_violence or both)")
    for taxonomy in _NOT_FOR_PROGRAMS:
        if terms.get(taxonomy):
            notes.append(f"{taxonomy} attributes: not a program's, left out")
    delivery = _delivery(record, terms, notes)
    location, precision = choose_location(record, side, delivery, notes)
    status = HSDS_TO_STATUS.get(str(record.get("status") or "active"))
    if status is None:
        notes.append(f"status {record.get('status')!r}: not an HSDS status, imported as active")
    history = evaluations(record, notes)
    stages = terms.get("evaluation_stage") or []
    stage = _one(stages, "evaluation_stage", notes) or (history[-1]["stage"] if history else None)
    if not history and stage not in (None, "none"):
        history = [{"stage": stage}]
    if terms.get("outcome") and not any(e.get("outcomes") for e in history):
        notes.append("outcome attributes: without an evaluation history to hold them, left out")
    org = organization(record, notes)
    body: dict[str, Any] = {
        "name": name,
        "side": side,
        "description": _text(record.get("description")),
        "formats": sorted(terms.get("format") or []),
        "group_type": _one(terms.get("group_type") or [], "group_type", notes),
        "delivery": delivery,
        "populations": sorted(terms.get("population") or []),
        "languages": _languages(record, terms.get("language") or [], vocab, notes),
        "location": location,
        "location_precision": precision,
        "service_radius_km": record.get("ipv_service_radius_km"),
        "status": status or "active",
        "founded_on": record.get("ipv_founded_on"),
        "clinical_partner_id": record.get("ipv_clinical_partner_id"),
        "clinical_partner_name": _text(record.get("ipv_clinical_partner_name")),
        "capacity": record.get("ipv_capacity"),
        "schedule": schedule(record, notes),
        "open_to_mentoring": record.get("ipv_open_to_mentoring") is True,
        "contacts": contacts(record, notes),
        "organization_id": str(org.id),
    }
    return ProgramDraft(
        assured_on=_date(record.get("assured_date"), notes),
        listing_id=ids.imported_id("service", hsds_id),
        organization=org,
        body=body,
        evaluations=history,
        stage=stage,
        notes=notes,
    )

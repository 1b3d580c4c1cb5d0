"""Programs as their readers see them."""

from collections.abc import Sequence

from registry.auth.principal import Principal
from registry.listings.presenters import AnyListing, evaluation_read, listing_read
from registry.listings.records import EvaluationRecord as EvaluationRow
from registry.models import EvaluationRecord
from registry.programs.schemas import ClinicalPartner, Evaluation, ProgramRead, Schedule


def program_read(
    listing: AnyListing,
    principal: Principal,
    *,
    band: str | None = None,
    history: Sequence[EvaluationRecord | EvaluationRow] | None = None,
) -> ProgramRead:
    evaluation = Evaluation(stage=listing.evaluation_stage)
    if history is not None:
        evaluation.history = [evaluation_read(r) for r in history]
    partner = None
    if listing.clinical_partner_id or listing.clinical_partner_name:
        partner = ClinicalPartner(id=listing.clinical_partner_id, name=listing.clinical_partner_name)
    schedule = Schedule(
        text=listing.schedule_text,
        weekdays=listing.schedule_weekdays,  # type: ignore[arg-type]
        frequency=listing.schedule_frequency,  # type: ignore[arg-type]
    )
    return listing_read(
        listing,
        ProgramRead,
        principal,
        distance_band=band,
        evaluation=evaluation,
        clinical_partner=partner,
        schedule=schedule,
    )

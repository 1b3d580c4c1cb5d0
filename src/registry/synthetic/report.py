"""What one load did."""

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class SyntheticReport:
    """What one load did. Counts are rows written by this run (chunks already present are skipped)."""

    n: int
    random_seed: int
    chunks: int
    skipped_chunks: int
    connections: int
    organizations: int = 0
    listings: int = 0
    listings_by_kind: dict[str, int] = field(default_factory=dict)
    contacts: int = 0
    evaluation_records: int = 0
    initiators: int = 0
    introductions: int = 0
    elapsed_s: float = 0.0
    listings_per_s: float = 0.0

    @property
    def skipped(self) -> bool:
        """True when the whole data set was already there and nothing was written."""
        return self.skipped_chunks == self.chunks

    def summary(self) -> str:
        if self.skipped:
            return (
                f"synthetic data set (n={self.n}, random seed {self.random_seed}) is already loaded; "
                f"nothing to do ({self.elapsed_s:.2f} s)"
            )
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.listings_by_kind.items())
        resumed = (
            f" ({self.skipped_chunks} of {self.chunks} chunks were already there)"
            if self.skipped_chunks
            else ""
        )
        return (
            f"loaded {self.listings} listings ({kinds}), {self.organizations} organizations, "
            f"{self.contacts} contacts, {self.evaluation_records} evaluation records, "
            f"{self.initiators} initiators, {self.introductions} introductions "
            f"in {self.elapsed_s:.1f} s: {self.listings_per_s:,.0f} listings/s "
            f"over {self.connections} connection(s){resumed}"
        )

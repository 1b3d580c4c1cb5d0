"""The US ZIP code table the API reads (`data/us_zip_codes.tsv`), written from the `zipcodes`
package (MIT licence, which carries the data): `python -m registry.locations.zipdata`.

The API does not import `zipcodes` itself: its compiled table takes ~40 MB in every process
that touches it. The tab-separated copy of the five columns the API needs is kept as one text and
the codes as numbers (`geo._ZipTable`): 1.5 MB."""

import sys
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parent / "data" / "us_zip_codes.tsv"
HEADER = (
    "# US ZIP code centroids, from the zipcodes package (https://github.com/seanpianka/zipcodes, "
    "MIT licence).\n# zip\tlatitude\tlongitude\tcity\tstate\n"
)


def rows(records: list[dict[str, Any]]) -> list[str]:
    return [
        "\t".join((str(r["zip_code"]), str(r["lat"]), str(r["long"]), str(r["city"]), str(r["state"])))
        for r in sorted(records, key=lambda r: str(r["zip_code"]))
    ]


def main() -> int:
    import zipcodes  # only this generator needs it (a dev dependency)

    lines = rows(zipcodes.list_all())  # type: ignore[no-untyped-call]
    TABLE.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} ZIP codes to {TABLE}")  # noqa: T201 (a command-line tool)
    return 0


if __name__ == "__main__":
    sys.exit(main())

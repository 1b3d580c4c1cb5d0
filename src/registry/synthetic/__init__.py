"""Synthetic data at scale, for load tests: `registry seed --synthetic N --random-seed S`.

N listings over real cities (by population), with the organizations, contacts, evaluation
histories, initiators and introductions the reports and the matcher read, under the privacy
rules of data entered through the API. Rows are a function of (n, random_seed, chunk_size, now),
chunk by chunk (`chunk`), and go in through COPY one chunk per transaction (`loading`), so memory
stays bounded at any N and loading the same data set again resumes instead of duplicating it.
"""

from registry.config import asyncpg_dsn
from registry.synthetic.chunk import CHUNK_SIZE, marker_id
from registry.synthetic.chunk import _Chunk as _Chunk
from registry.synthetic.chunk import _generate_chunk as _generate_chunk
from registry.synthetic.loading import (
    DEFAULT_CONNECTIONS,
    MAX_N,
    default_now,
    load_synthetic,
    load_synthetic_url,
    run,
)
from registry.synthetic.loading import _copy_chunk as _copy_chunk
from registry.synthetic.places import _cities as _cities
from registry.synthetic.report import SyntheticReport
from registry.synthetic.tables import (
    CONTACT_COLUMNS,
    EVALUATION_COLUMNS,
    INITIATOR_COLUMNS,
    INTRODUCTION_COLUMNS,
    LISTING_COLUMNS,
    ORGANIZATION_COLUMNS,
    TABLES,
)
from registry.synthetic.vocabulary import COUNTRY_LANGUAGES, KIND_SHARES

__all__ = [
    "CHUNK_SIZE",
    "CONTACT_COLUMNS",
    "COUNTRY_LANGUAGES",
    "DEFAULT_CONNECTIONS",
    "EVALUATION_COLUMNS",
    "INITIATOR_COLUMNS",
    "INTRODUCTION_COLUMNS",
    "KIND_SHARES",
    "LISTING_COLUMNS",
    "MAX_N",
    "ORGANIZATION_COLUMNS",
    "TABLES",
    "SyntheticReport",
    "asyncpg_dsn",
    "default_now",
    "load_synthetic",
    "load_synthetic_url",
    "marker_id",
    "run",
]

"""Typed markers for what handlers receive: the request's session and the caller."""

import uuid
from typing import Annotated, TypeAlias

from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal

DbSession: TypeAlias = NamedDependency[AsyncSession]
Caller: TypeAlias = NamedDependency[Principal]

IdPath: TypeAlias = Annotated[uuid.UUID, PathParameter()]
IfMatch: TypeAlias = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="the ETag from your last read", required=False),
]

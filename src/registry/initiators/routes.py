"""HTTP surface for initiators' own profiles."""

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import JSONBody

from registry.http.dependencies import Caller, DbSession, IfMatch
from registry.http.etags import etag_for
from registry.http.idempotency import KEY_SHOWN_ONCE_RESPONSES
from registry.initiators import service
from registry.initiators.schemas import InitiatorCreate, InitiatorRead, InitiatorRegistered, InitiatorUpdate
from registry.models import Initiator


def with_etag(initiator: Initiator) -> Response[InitiatorRead]:
    return Response(service.to_read(initiator), headers={"ETag": etag_for(initiator.id, initiator.version)})


class InitiatorController(Controller):
    path = "/initiators"
    tags = ["initiators"]

    @post(
        "/",
        status_code=201,
        opt={"idempotent": True, "rate_limit": "initiators"},
        responses=KEY_SHOWN_ONCE_RESPONSES,
    )
    async def create_initiator(
        self, db_session: DbSession, data: JSONBody[InitiatorCreate]
    ) -> InitiatorRegistered:
        """Create your minimal profile (no account needed); the answer holds your key, shown once."""
        initiator, key = await service.create_initiator(db_session, data)
        return InitiatorRegistered(initiator=service.to_read(initiator), key=key)

    @get("/me")
    async def get_me(self, db_session: DbSession, principal: Caller) -> Response[InitiatorRead]:
        """Your profile (initiator key); the ETag header is what a later PATCH or DELETE sends as If-Match."""
        return with_etag(await service.get_own(db_session, principal))

    @patch("/me")
    async def update_me(
        self,
        db_session: DbSession,
        principal: Caller,
        data: JSONBody[InitiatorUpdate],
        if_match: IfMatch = None,
    ) -> Response[InitiatorRead]:
        """Change your profile (initiator key; If-Match required)."""
        return with_etag(await service.update_own(db_session, principal, data, if_match))

    @delete("/me", status_code=204)
    async def erase_me(self, db_session: DbSession, principal: Caller, if_match: IfMatch = None) -> None:
        """Erase your profile and pending introductions (If-Match required); accepted ones keep
        only what the partner received."""
        await service.erase_own(db_session, principal, if_match)

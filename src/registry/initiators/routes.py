"""HTTP surface for initiators' own profiles."""

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from registry.dependencies import Caller, DbSession
from registry.idempotency import KEY_SHOWN_ONCE_RESPONSES
from registry.initiators import service
from registry.initiators.schemas import InitiatorCreate, InitiatorRead, InitiatorRegistered, InitiatorUpdate


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
    async def get_me(self, db_session: DbSession, principal: Caller) -> InitiatorRead:
        """Your profile (initiator key)."""
        return service.to_read(await service.get_own(db_session, principal))

    @patch("/me")
    async def update_me(
        self, db_session: DbSession, principal: Caller, data: JSONBody[InitiatorUpdate]
    ) -> InitiatorRead:
        """Change your profile (initiator key)."""
        return service.to_read(await service.update_own(db_session, principal, data))

    @delete("/me", status_code=204)
    async def erase_me(self, db_session: DbSession, principal: Caller) -> None:
        """Erase your profile and pending introductions; accepted ones keep only what the partner received."""
        await service.erase_own(db_session, principal)

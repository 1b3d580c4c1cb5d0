"""HTTP surface for matching and for programs finding their peers."""

import functools

from litestar import Controller, MediaType, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from registry.auth.dependencies import require_authenticated
from registry.http.dependencies import Caller, DbSession, IdPath
from registry.matching import service
from registry.matching.schemas import Explanations, MatchRequest, MatchResponse, PeersResponse
from registry.matching.scoring import Weights
from registry.reports import releases


def weights(state: State) -> Weights:
    return _weights(state.settings.match_weights)


@functools.lru_cache(maxsize=8)
def _weights(text: str) -> Weights:
    # Settings are read once; parsing them again for every match cost more than a cached answer.
    return Weights.from_json(text)


class MatchController(Controller):
    tags = ["matching"]

    @post("/matches", status_code=200, opt={"rate_limit": "matches", "replica_reads": True})
    async def match(
        self, db_session: DbSession, principal: Caller, state: State, data: JSONBody[MatchRequest]
    ) -> Response[MatchResponse]:
        """Ranked partners per kind near a place (a POST, so search terms stay out of URLs and logs)."""
        body = await service.match(db_session, principal, data, weights(state), state.caches)
        # The body is a MatchResponse already encoded (bytes go out as they are).
        return Response(content=body, media_type=MediaType.JSON)  # type: ignore[arg-type]

    @get("/matches/explanations")
    async def explanations(self) -> Explanations:
        """What a match's breakdown and reasons mean: every factor, and every reason code with its text."""
        return service.explanations()

    @get("/programs/{program_id:uuid}/peers")
    async def peers(
        self, db_session: DbSession, principal: Caller, state: State, program_id: IdPath
    ) -> PeersResponse:
        """For a program's own organization: programs doing the same work nearby, the initiators nearby
        who chose to be listed, and the others' needs as protected counts."""
        require_authenticated(principal)
        period = await releases.current_period(
            state.sessionmaker, state.settings.report_period_hours, state.caches
        )
        return await service.peers(
            db_session,
            principal,
            program_id,
            weights(state),
            state.caches,
            period=period,
            threshold=state.settings.report_threshold,
        )

"""HTTP surface for introductions."""

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import JSONBody, QueryParameter

from registry.http.dependencies import Caller, DbSession, IdPath
from registry.http.pagination import DEFAULT_PER_PAGE, Page, PageNumber, PerPage, offset
from registry.introductions import service
from registry.introductions.schemas import IntroductionCreate, IntroductionRead

StatusFilter = Annotated[
    Literal["pending", "accepted", "declined", "withdrawn", "expired", "closed"] | None, QueryParameter()
]


class IntroductionController(Controller):
    path = "/introductions"
    tags = ["introductions"]

    @post("/", status_code=201, opt={"idempotent": True, "rate_limit": "introductions"})
    async def create_introduction(
        self, db_session: DbSession, principal: Caller, data: JSONBody[IntroductionCreate]
    ) -> IntroductionRead:
        """Ask a listing's organization for an introduction (initiator key), or, for one of your programs,
        another program for mentoring (verified organization key, `from_program_id`); 10 a day, 3
        pending per organization."""
        intro, _ = await service.create_introduction(db_session, principal, data)
        return await service.present(db_session, principal, intro, reveal=False)

    @get("/")
    async def list_introductions(
        self,
        db_session: DbSession,
        principal: Caller,
        status: StatusFilter = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
    ) -> Page[IntroductionRead]:
        """Your introductions (initiator) or your listings' inbox (organization), newest first."""
        rows, total = await service.list_introductions(
            db_session, principal, status=status, limit=per_page, offset=offset(page, per_page)
        )
        items = [await service.present(db_session, principal, i, reveal=False) for i in rows]
        return Page(items=items, total=total, page=page, per_page=per_page)

    @get("/{introduction_id:uuid}")
    async def get_introduction(
        self, db_session: DbSession, principal: Caller, introduction_id: IdPath
    ) -> IntroductionRead:
        """One introduction; once accepted, each side sees the other's contact details here (audited)."""
        intro = await service.get_introduction(db_session, principal, introduction_id)
        return await service.present(db_session, principal, intro, reveal=True)

    @post("/{introduction_id:uuid}/accept", status_code=200)
    async def accept(
        self, db_session: DbSession, principal: Caller, introduction_id: IdPath
    ) -> IntroductionRead:
        """Accept a pending introduction to one of your listings."""
        intro = await service.decide(db_session, principal, introduction_id, "accept")
        return await service.present(db_session, principal, intro, reveal=False)

    @post("/{introduction_id:uuid}/decline", status_code=200)
    async def decline(
        self, db_session: DbSession, principal: Caller, introduction_id: IdPath
    ) -> IntroductionRead:
        """Decline a pending introduction to one of your listings."""
        intro = await service.decide(db_session, principal, introduction_id, "decline")
        return await service.present(db_session, principal, intro, reveal=False)

    @post("/{introduction_id:uuid}/withdraw", status_code=200)
    async def withdraw(
        self, db_session: DbSession, principal: Caller, introduction_id: IdPath
    ) -> IntroductionRead:
        """Withdraw a pending introduction you asked for."""
        intro = await service.decide(db_session, principal, introduction_id, "withdraw")
        return await service.present(db_session, principal, intro, reveal=False)

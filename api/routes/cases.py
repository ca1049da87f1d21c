"""/v1/cases: intake, lists, one case with its live state, its timeline, and the human actions.

The API never writes a case: intake starts the case workflow, every action is an Update on it,
and reads come from the PostgreSQL record (plus a live query for timers)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.auth import CurrentPrincipal, Forbidden, allowed, rate_limited
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import InvalidReference, NotAllowedNow, Unavailable, UnknownCase
from api.schemas import (
    CaseCreate,
    CaseOut,
    CasePage,
    EventOut,
    LiveState,
    PendingDeadline,
)
from core.auth import issue
from core.config import Settings
from db import cases
from db.models import Case, Category, Community, Grid, Unit
from domain.calendar import SUBDISTRICT_TZ
from domain.case import (
    AcceptInput,
    CaseIntake,
    CaseStatus,
    CaseView,
    ConfirmInput,
    ContactInput,
    Deadline,
    EscalateInput,
    ExtensionDecisionInput,
    ExtensionRequestInput,
    MergeInput,
    ProgressInput,
    RateInput,
    ReassignInput,
    RejectInput,
    ReopenInput,
    ReplyInput,
    ResolveOnSiteInput,
    ResumeInput,
    ReturnInput,
    ReviewCloseInput,
    SuspendInput,
    UrgeInput,
    VerifyInput,
    allowed_actions,
)
from domain.linkage import (
    AddAgencyInput,
    AgencyDoneInput,
    AgencyInput,
    LinkageView,
    OpenLinkageInput,
    ReleaseAgencyInput,
)
from domain.permissions import (
    SEES_PHONE,
    CaseScope,
    Principal,
    Role,
    in_scope,
    mask_phone,
    may,
)
from domain.timeline import deadline_states
from workflows import search_attributes as sa
from workflows.case import FORBIDDEN, NOT_ALLOWED_NOW, CaseWorkflow
from workflows.linkage import LinkageWorkflow, linkage_id

router = APIRouter(prefix="/v1/cases", tags=["cases"])

# How long intake waits for routing before answering 202 (the case goes on without the caller).
ROUTING_WAIT_SECONDS = 10.0

CaseId = Annotated[str, Path(pattern=r"^[A-Z]{1,8}-\d{4}-\d{6,}$", examples=["LC-2026-000123"])]
ActionInputT = TypeVar("ActionInputT", bound=BaseModel)
ResultT = TypeVar("ResultT")

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown case"},
    409: {"description": "Not allowed in the case's current state; details list what is"},
    422: {"description": "Invalid body"},
    503: {"description": "Temporal or PostgreSQL unavailable; retry after Retry-After seconds"},
}


# ---- intake ------------------------------------------------------------------------------------


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseOut,
    responses={
        200: {"description": "This channel + external_ref was filed before: the existing case"},
        202: {"description": "Recorded and started; routing still under way"},
        **_ERRORS,
    },
)
async def create_case(
    body: CaseCreate,
    request: Request,
    response: Response,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(allowed("create"))],
) -> CaseOut:
    """受理. A resident's app is rate-limited per client; the answer carries `resident_token`,
    with which the resident follows and rates this case and nothing else."""
    if principal.role is Role.resident:
        rate_limited(request, f"resident:{principal.subject}")
    case, response.status_code = await file_case(
        request.app.state.sessions, temporal, settings, body
    )
    resident = Principal(subject=f"resident:{case.id}", role=Role.resident, case_id=case.id)
    case.resident_token = issue(settings, resident, RESIDENT_TOKEN_LIFETIME)
    return _masked(case, principal)


async def file_case(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    body: CaseCreate,
) -> tuple[CaseOut, int]:
    """受理: record the intake key, start the case's workflow, wait briefly for its routing.
    Returns the case and the HTTP status: 201 new, 200 filed before, 202 still routing."""
    # The intake key commits before the workflow starts, so a retry after any failure below
    # finds the same case id: never a second case, never a lost one.
    async with sessions.begin() as session:
        await _check_references(session, body)
        number = await cases.allocate_number(session)
        case_id = f"{settings.case_prefix}-{datetime.now(SUBDISTRICT_TZ).year}-{number:06d}"
        if body.external_ref is not None:
            key = await cases.claim_intake(
                session, body.channel.value, body.external_ref, case_id, number
            )
            if key.case_id != case_id:
                existing = await cases.get(session, key.case_id)
                if existing is not None:
                    return _case_out(existing), status.HTTP_200_OK
                case_id, number = key.case_id, key.number  # filed, but never started: start now

        duplicate = await _possible_duplicate(session, settings, body)

    intake = CaseIntake(
        case_id=case_id,
        number=number,
        possible_duplicate_of=duplicate,
        **body.model_dump(mode="json"),
    )
    handle = await temporal.start_workflow(
        CaseWorkflow.run,
        intake,
        id=case_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.CASE_STATUS, CaseStatus.received.value),
                SearchAttributePair(sa.CASE_CATEGORY, body.category),
                SearchAttributePair(sa.CASE_CHANNEL, body.channel.value),
            ]
        ),
        static_summary=f"{case_id} · {body.category} · {body.location.address}",
        static_details=f"**{body.title}**\n\nchannel: {body.channel.value}",
        rpc_timeout=_rpc_timeout(settings),
    )
    try:
        view = await asyncio.wait_for(
            handle.execute_update(CaseWorkflow.routed, rpc_timeout=_rpc_timeout(settings)),
            timeout=ROUTING_WAIT_SECONDS,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        # No worker picked it up in time: the case exists and will be routed when one does.
        return CaseOut(**_received_view(intake).model_dump()), status.HTTP_202_ACCEPTED
    return CaseOut(**view.model_dump(), reporter=body.reporter), status.HTTP_201_CREATED


async def _possible_duplicate(
    session: AsyncSession, settings: Settings, body: CaseCreate
) -> str | None:
    location = body.location
    if location.lat is None or location.lon is None:
        return None
    return await cases.nearby_open(
        session,
        category=body.category,
        lat=location.lat,
        lon=location.lon,
        since=datetime.now(UTC) - timedelta(days=settings.duplicate_window_days),
        radius_m=settings.duplicate_radius_m,
    )


async def _check_references(session: AsyncSession, body: CaseCreate) -> None:
    if await session.get(Category, body.category) is None:
        raise InvalidReference("unknown category", {"field": "category", "value": body.category})
    location = body.location
    if location.community and await session.get(Community, location.community) is None:
        raise InvalidReference(
            "unknown community", {"field": "location.community", "value": location.community}
        )
    if location.grid:
        grid = await session.get(Grid, location.grid)
        if grid is None:
            raise InvalidReference(
                "unknown grid", {"field": "location.grid", "value": location.grid}
            )
        if location.community and grid.community != location.community:
            raise InvalidReference(
                "the grid is not in that community",
                {"field": "location.grid", "value": location.grid, "community": grid.community},
            )


def _received_view(intake: CaseIntake) -> CaseView:
    return CaseView(
        id=intake.case_id,
        number=intake.number,
        status=CaseStatus.received,
        channel=intake.channel,
        external_ref=intake.external_ref,
        category=intake.category,
        severity=intake.severity,
        title=intake.title,
        description=intake.description,
        address=intake.location.address,
        community=intake.location.community,
        grid=intake.location.grid,
        unit=None,
        rule=None,
        overdue=False,
        returns=0,
        rehandled=False,
        grade=None,
        solved=None,
        outcome=None,
        received_at=datetime.now(SUBDISTRICT_TZ),
        dispatched_at=None,
        accepted_at=None,
        contacted_at=None,
        replied_at=None,
        rated_at=None,
        closed_at=None,
        deadlines=[],
        allowed_actions=[],
        last_seq=0,
    )


# ---- reads -------------------------------------------------------------------------------------


@router.get("", response_model=CasePage)
async def list_cases(
    session: SessionDep,
    principal: Annotated[Principal, Depends(allowed("list"))],
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    community: str | None = None,
    grid: str | None = None,
    unit: str | None = None,
    category: str | None = None,
    overdue: bool | None = None,
    at_risk: Annotated[
        bool | None, Query(description="Past the warning point of its next deadline, not yet due")
    ] = None,
    due_before: datetime | None = None,
    escalated: bool | None = None,
    linkage: Annotated[str | None, Query(pattern="^(open|completed|cancelled)$")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Text in title, description or address"),
    ] = None,
    sort: Annotated[str, Query(pattern="^(newest|due)$")] = "newest",
    before: Annotated[int | None, Query(ge=1, description="sort=newest: the next_before")] = None,
    cursor: Annotated[
        str | None, Query(max_length=200, description="sort=due: the next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    filters = {
        "status": status_.value if status_ else None,
        "community": community,
        "grid": grid,
        "unit": unit,
        "category": category,
    }
    now = datetime.now(UTC)
    conditions = scope_conditions(principal)
    if at_risk is not None:
        risky = (Case.warn_at <= now) & (Case.due_at > now)
        conditions.append(risky if at_risk else ~risky | Case.warn_at.is_(None))
    if due_before is not None:
        conditions.append(Case.due_at < due_before)
    if escalated is not None:
        conditions.append((Case.escalation_level > 0) == escalated)
    if linkage is not None:
        conditions.append(Case.linkage == linkage)
    if q is not None:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            Case.title.ilike(pattern)
            | Case.description.ilike(pattern)
            | Case.address.ilike(pattern)
        )
    rows = await cases.page(
        session,
        filters=filters,
        overdue=overdue,
        before=before,
        limit=limit + 1,
        conditions=conditions,
        by_due=sort == "due",
        after=_decode_cursor(cursor) if cursor else None,
    )
    page = CasePage.of(rows, limit)
    if sort == "due":
        page.next_before = None
        last = page.items[-1] if len(rows) > limit else None
        if last is not None and last.due_at is not None:
            page.next_cursor = _encode_cursor(last.due_at, last.number)
    return page


def _encode_cursor(due_at: datetime, number: int) -> str:
    raw = f"{due_at.isoformat()}|{number}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        due, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(due), int(number)
    except ValueError:
        raise InvalidReference("not a cursor from this list", {"field": "cursor"}) from None


def scope_conditions(principal: Principal) -> list[ColumnElement[bool]]:
    """The list a principal may see: its unit's, its grids', its community's cases."""
    if principal.role is Role.unit_handler or principal.role is Role.agency:
        return [Case.unit == principal.unit]
    if principal.role is Role.grid_worker:
        return [Case.grid.in_(principal.grids)]
    if principal.role is Role.supervisor and principal.community:
        return [Case.community == principal.community]
    return []


@router.get("/{case_id}", response_model=CaseOut, responses={404: _ERRORS[404]})
async def get_case(
    case_id: CaseId,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(allowed("read"))],
) -> CaseOut:
    case = await _visible_or_404(session, temporal, principal, case_id)
    out = _masked(_case_out(case), principal)
    if case.status != CaseStatus.closed:
        out.live = await _live(temporal, case_id, settings)
        out.linkage = out.live.linkage if out.live else None
    return out


@router.get("/{case_id}/events", response_model=list[EventOut], responses={404: _ERRORS[404]})
async def case_events(
    case_id: CaseId,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Annotated[Principal, Depends(allowed("read"))],
) -> list[EventOut]:
    await _visible_or_404(session, temporal, principal, case_id)
    events = await cases.events(session, case_id)
    return [
        EventOut.model_validate(e).model_copy(update={"deadlines": states})
        for e, states in zip(events, deadline_states(events), strict=True)
    ]


async def _live(temporal: Client, case_id: str, settings: Settings) -> LiveState | None:
    """Live timers from the workflow query; None when the workflow is unreachable or gone."""
    try:
        view = await temporal.get_workflow_handle(case_id).query(
            CaseWorkflow.state, rpc_timeout=_rpc_timeout(settings)
        )
    except RPCError:
        return None
    return LiveState(
        status=view.status,
        allowed_actions=view.allowed_actions,
        linkage=view.linkage,
        pending_deadlines=[
            PendingDeadline(kind=d.kind, due_at=d.due_at)
            for d in view.deadlines
            if d.met_at is None and not d.missed
        ],
    )


# ---- human actions: one Update each --------------------------------------------------------------


class CaseActions:
    """Sends one action to a case's workflow as an Update and maps the outcome to HTTP.

    An `Idempotency-Key` header makes the action safe to retry: it becomes the Update id, and
    Temporal runs an Update id once per case, so a retry after a 503 attaches to the first try."""

    def __init__(
        self,
        session: SessionDep,
        temporal: TemporalDep,
        settings: SettingsDep,
        principal: CurrentPrincipal,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=100,
                description="Any unique string; repeating it repeats nothing",
            ),
        ] = None,
    ) -> None:
        self.session, self.temporal, self.settings = session, temporal, settings
        self.principal, self.idempotency_key = principal, idempotency_key

    async def __call__(
        self,
        case_id: str,
        update: UpdateMethodMultiParam[[Any, ActionInputT], CaseView],
        body: ActionInputT,
    ) -> CaseOut:
        """An action on the case itself: the new state of the case."""
        view = await self.send(case_id, case_id, update, body)
        return _masked(CaseOut(**view.model_dump()), self.principal)

    async def send(
        self,
        case_id: str,
        workflow_id: str,
        update: UpdateMethodMultiParam[[Any, ActionInputT], ResultT],
        body: ActionInputT,
    ) -> ResultT:
        """Send `update` to the case's workflow or its linkage's, with the 409/503 mapping."""
        name = getattr(update, "__name__", "update")
        action = name.rstrip("_")  # return_ -> return
        if not may(self.principal, action):
            raise Forbidden(
                f"a {self.principal.role.value} may not {action}",
                {"role": self.principal.role.value, "action": action},
            )
        case = await _visible_or_404(self.session, self.temporal, self.principal, case_id)
        handle = self.temporal.get_workflow_handle(workflow_id)
        update_id = f"{workflow_id}:{name}:{self.idempotency_key}" if self.idempotency_key else None
        try:
            return await handle.execute_update(
                update,
                body.model_copy(
                    update={"actor": self.principal.actor, "principal": self.principal}
                ),
                id=update_id,
                rpc_timeout=_rpc_timeout(self.settings),
            )
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            if isinstance(cause, ApplicationError) and cause.type == FORBIDDEN:
                raise Forbidden(
                    cause.message, cause.details[0] if cause.details else None
                ) from None
            if isinstance(cause, ApplicationError) and cause.type == NOT_ALLOWED_NOW:
                raise NotAllowedNow(
                    cause.message, cause.details[0] if cause.details else None
                ) from None
            raise
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            # No worker took the action in time (all down or overloaded). It may still run when
            # one comes back; a retry with the same Idempotency-Key then returns its result.
            raise Unavailable(
                "the case's worker did not answer in time; retry with the same Idempotency-Key",
                {"id": case_id},
            ) from None
        except RPCError as rpc:
            if rpc.status == RPCStatusCode.NOT_FOUND:  # the workflow has completed
                what = "case" if workflow_id == case_id else "linkage"
                raise NotAllowedNow(
                    f"the {what} is closed", {"status": case.status, "allowed_actions": []}
                ) from None
            raise


Act = Annotated[CaseActions, Depends()]


@router.post("/{case_id}/accept", response_model=CaseOut, responses=_ERRORS)
async def accept(case_id: CaseId, body: AcceptInput, act: Act) -> CaseOut:
    """签收: the unit signs for the case and starts handling it."""
    return await act(case_id, CaseWorkflow.accept, body)


@router.post("/{case_id}/return", response_model=CaseOut, responses=_ERRORS)
async def return_(case_id: CaseId, body: ReturnInput, act: Act) -> CaseOut:
    """退单: not ours — back to the dispatcher, with the reason."""
    # The SDK's stub types an update declared with a name as returning a coroutine.
    return await act(case_id, CaseWorkflow.return_, body)  # type: ignore[arg-type]


@router.post("/{case_id}/reassign", response_model=CaseOut, responses=_ERRORS)
async def reassign(case_id: CaseId, body: ReassignInput, act: Act) -> CaseOut:
    """The dispatcher sends the case to another unit; its clocks restart."""
    if await act.session.get(Unit, body.unit) is None:
        raise InvalidReference("unknown unit", {"field": "unit", "value": body.unit})
    return await act(case_id, CaseWorkflow.reassign, body)


@router.post("/{case_id}/reject", response_model=CaseOut, responses=_ERRORS)
async def reject(case_id: CaseId, body: RejectInput, act: Act) -> CaseOut:
    """不予受理: not a government matter; closed with the reason (and still counted)."""
    return await act(case_id, CaseWorkflow.reject, body)


@router.post("/{case_id}/contact", response_model=CaseOut, responses=_ERRORS)
async def contact(case_id: CaseId, body: ContactInput, act: Act) -> CaseOut:
    """联系诉求人: first contact with the resident."""
    return await act(case_id, CaseWorkflow.contact, body)


@router.post("/{case_id}/progress", response_model=CaseOut, responses=_ERRORS)
async def progress(case_id: CaseId, body: ProgressInput, act: Act) -> CaseOut:
    """A progress note while handling."""
    return await act(case_id, CaseWorkflow.progress, body)


@router.post("/{case_id}/reply", response_model=CaseOut, responses=_ERRORS)
async def reply(case_id: CaseId, body: ReplyInput, act: Act) -> CaseOut:
    """答复: the handling unit writes the result to the resident."""
    return await act(case_id, CaseWorkflow.reply, body)


@router.post("/{case_id}/rate", response_model=CaseOut, responses=_ERRORS)
async def rate(case_id: CaseId, body: RateInput, act: Act) -> CaseOut:
    """评价: the resident rates the reply; unsatisfied once means re-handling."""
    return await act(case_id, CaseWorkflow.rate, body)


@router.post("/{case_id}/urge", response_model=CaseOut, responses=_ERRORS)
async def urge(case_id: CaseId, body: UrgeInput, act: Act) -> CaseOut:
    """催办: a supervisor chases the unit (recorded, and sent to the unit)."""
    return await act(case_id, CaseWorkflow.urge, body)


@router.post("/{case_id}/escalate", response_model=CaseOut, responses=_ERRORS)
async def escalate(case_id: CaseId, body: EscalateInput, act: Act) -> CaseOut:
    """One step up the escalation ladder by hand, with the reason."""
    return await act(case_id, CaseWorkflow.escalate, body)


@router.post("/{case_id}/request_extension", response_model=CaseOut, responses=_ERRORS)
async def request_extension(case_id: CaseId, body: ExtensionRequestInput, act: Act) -> CaseOut:
    """延期: the unit asks, before the reply deadline, for a later one (within the policy)."""
    return await act(case_id, CaseWorkflow.request_extension, body)


@router.post("/{case_id}/approve_extension", response_model=CaseOut, responses=_ERRORS)
async def approve_extension(case_id: CaseId, body: ExtensionDecisionInput, act: Act) -> CaseOut:
    """The reply deadline moves; the original is kept for the on-time rate."""
    return await act(case_id, CaseWorkflow.approve_extension, body)


@router.post("/{case_id}/deny_extension", response_model=CaseOut, responses=_ERRORS)
async def deny_extension(case_id: CaseId, body: ExtensionDecisionInput, act: Act) -> CaseOut:
    return await act(case_id, CaseWorkflow.deny_extension, body)


@router.post("/{case_id}/suspend", response_model=CaseOut, responses=_ERRORS)
async def suspend(case_id: CaseId, body: SuspendInput, act: Act) -> CaseOut:
    """挂起: every clock stops until `resume` (or the policy's longest suspension)."""
    return await act(case_id, CaseWorkflow.suspend, body)


@router.post("/{case_id}/resume", response_model=CaseOut, responses=_ERRORS)
async def resume(case_id: CaseId, body: ResumeInput, act: Act) -> CaseOut:
    """The clocks restart with the time they had left."""
    return await act(case_id, CaseWorkflow.resume, body)


@router.post("/{case_id}/review_close", response_model=CaseOut, responses=_ERRORS)
async def review_close(case_id: CaseId, body: ReviewCloseInput, act: Act) -> CaseOut:
    """A supervisor closes a twice-unsatisfied case with a verdict."""
    return await act(case_id, CaseWorkflow.review_close, body)


@router.post("/{case_id}/reopen", response_model=CaseOut, responses=_ERRORS)
async def reopen(case_id: CaseId, body: ReopenInput, act: Act) -> CaseOut:
    """A supervisor sends a twice-unsatisfied case back to the unit (fresh reply deadline)."""
    return await act(case_id, CaseWorkflow.reopen, body)


@router.post("/{case_id}/merge", response_model=CaseOut, responses=_ERRORS)
async def merge(case_id: CaseId, body: MergeInput, act: Act) -> CaseOut:
    """The dispatcher folds a duplicate into its master case (`into`), which must be open."""
    master = await act.session.get(Case, body.into)
    if master is None:
        raise InvalidReference("unknown master case", {"field": "into", "value": body.into})
    if master.status == CaseStatus.closed:
        raise NotAllowedNow(
            "the master case is closed", {"into": body.into, "status": master.status}
        )
    return await act(case_id, CaseWorkflow.merge, body)


# ---- grid events: solved on the spot, or checked on site ----------------------------------------


@router.post("/{case_id}/resolve_on_site", response_model=CaseOut, responses=_ERRORS)
async def resolve_on_site(case_id: CaseId, body: ResolveOnSiteInput, act: Act) -> CaseOut:
    """小事不出网格: the grid worker solved its own event on the spot (photo as evidence)."""
    return await act(case_id, CaseWorkflow.resolve_on_site, body)


@router.post("/{case_id}/confirm", response_model=CaseOut, responses=_ERRORS)
async def confirm(case_id: CaseId, body: ConfirmInput, act: Act) -> CaseOut:
    """The community confirms an on-the-spot solution: closed as self-resolved."""
    return await act(case_id, CaseWorkflow.confirm, body)


@router.post("/{case_id}/verify", response_model=CaseOut, responses=_ERRORS)
async def verify(case_id: CaseId, body: VerifyInput, act: Act) -> CaseOut:
    """核查: the grid worker checks the unit's fix on site; not fixed sends it back."""
    return await act(case_id, CaseWorkflow.verify, body)


# ---- multi-agency linkage: opened on the case, acted on by the agencies --------------------------


@router.post("/{case_id}/open_linkage", response_model=CaseOut, responses=_ERRORS)
async def open_linkage(case_id: CaseId, body: OpenLinkageInput, act: Act) -> CaseOut:
    """吹哨: link agencies (default: the category's) around the case's unit, which leads."""
    return await act(case_id, CaseWorkflow.open_linkage, body)


@router.post("/{case_id}/linkage/report", response_model=LinkageView, responses=_ERRORS)
async def linkage_report(case_id: CaseId, body: AgencyInput, act: Act) -> LinkageView:
    """报到: the agency has arrived / responded; its clock for finishing starts."""
    _own_agency(act.principal, body.agency)
    return await act.send(case_id, linkage_id(case_id), LinkageWorkflow.report, body)


@router.post("/{case_id}/linkage/agency_done", response_model=LinkageView, responses=_ERRORS)
async def linkage_agency_done(case_id: CaseId, body: AgencyDoneInput, act: Act) -> LinkageView:
    """The agency's part is done, with its notes."""
    _own_agency(act.principal, body.agency)
    return await act.send(case_id, linkage_id(case_id), LinkageWorkflow.agency_done, body)


@router.post("/{case_id}/linkage/add_agency", response_model=LinkageView, responses=_ERRORS)
async def linkage_add_agency(case_id: CaseId, body: AddAgencyInput, act: Act) -> LinkageView:
    """The coordinator summons one more agency."""
    if await act.session.get(Unit, body.agency) is None:
        raise InvalidReference("unknown unit", {"field": "agency", "value": body.agency})
    return await act.send(case_id, linkage_id(case_id), LinkageWorkflow.add_agency, body)


@router.post("/{case_id}/linkage/release_agency", response_model=LinkageView, responses=_ERRORS)
async def linkage_release_agency(
    case_id: CaseId, body: ReleaseAgencyInput, act: Act
) -> LinkageView:
    """The coordinator lets an agency go (with the reason)."""
    return await act.send(case_id, linkage_id(case_id), LinkageWorkflow.release_agency, body)


RESIDENT_TOKEN_LIFETIME = timedelta(days=180)


def _own_agency(principal: Principal, agency: str) -> None:
    """An agency reports and finishes its own part, not another's."""
    if principal.role is Role.agency and principal.unit != agency:
        raise Forbidden(
            "an agency acts for itself only", {"agency": agency, "unit": principal.unit}
        )


async def _visible_or_404(
    session: AsyncSession, temporal: Client, principal: Principal, case_id: str
) -> Case:
    """The case, if the principal may see it; a foreign case is answered as unknown, so a unit
    does not even learn that another unit's case exists."""
    case = await _get_or_404(session, case_id)
    if not in_scope(principal, await case_scope(session, temporal, principal, case)):
        raise UnknownCase(f"no case {case_id}", {"id": case_id})
    return case


async def case_scope(
    session: AsyncSession, temporal: Client, principal: Principal, case: Case
) -> CaseScope:
    # Only what the caller's role is judged by is looked up, not on every request.
    committee = None
    if principal.role is Role.unit_handler and principal.unit != case.unit:
        committee = await session.scalar(
            select(Unit.code).where(Unit.kind == "community", Unit.community == case.community)
        )
    agencies: tuple[str, ...] = ()
    if principal.role is Role.agency and case.linkage:  # who was summoned: the live linkage
        try:
            view = await temporal.get_workflow_handle(linkage_id(case.id)).query(
                LinkageWorkflow.state
            )
            agencies = tuple(a.unit for a in view.agencies)
        except RPCError:
            agencies = ()
    return CaseScope(
        case_id=case.id,
        unit=case.unit,
        grid=case.grid,
        community=case.community,
        community_unit=committee,
        agencies=agencies,
    )


def _masked(case: CaseOut, principal: Principal) -> CaseOut:
    """A resident's phone, for those who need it to do their job (and the resident)."""
    own = principal.role is Role.resident and principal.case_id == case.id
    if case.reporter is not None and not (principal.role in SEES_PHONE or own):
        case.reporter = case.reporter.model_copy(update={"phone": mask_phone(case.reporter.phone)})
    return case


async def _get_or_404(session: AsyncSession, case_id: str) -> Case:
    case = await cases.get(session, case_id)
    if case is None:
        raise UnknownCase(f"no case {case_id}", {"id": case_id})
    return case


def _case_out(case: Case) -> CaseOut:
    # The row keeps only the linkage's status; its agencies come from the live query.
    fields = {
        name: getattr(case, name)
        for name in CaseView.model_fields
        if hasattr(case, name) and name != "linkage"
    }
    deadlines = [Deadline.model_validate(d) for d in case.deadlines]
    return CaseOut(
        **{**fields, "deadlines": deadlines},
        allowed_actions=allowed_actions(
            CaseStatus(case.status),
            case.contacted_at is not None,
            suspended=case.suspended,
            in_review=case.review == "pending",
            grid_event=case.channel == "grid_patrol",
        ),
        reporter={"name": case.reporter_name, "phone": case.reporter_phone}
        if case.reporter_name and case.reporter_phone
        else None,
    )


def _rpc_timeout(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.temporal_rpc_timeout)

"""Staff, departments and API tokens over REST."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fincare.platform.accounts import service
from fincare.platform.accounts.schemas import (
    DepartmentRead,
    MeRead,
    StaffCreated,
    StaffIn,
    StaffRead,
    TokenCreated,
    TokenIn,
    TokenRead,
)
from fincare.platform.db import unit_of_work
from fincare.platform.errors import NotFound
from fincare.platform.http import require
from fincare.platform.idempotency import IdempotencyKey
from fincare.platform.permissions import Permission as P
from fincare.platform.permissions import Principal
from fincare.platform.schemas import PathId

router = APIRouter(prefix="/api/v1", tags=["staff"])


@router.get("/me", response_model=MeRead)
def me(actor: Annotated[Principal, require(P.CONSOLE)]) -> MeRead:
    with unit_of_work() as session:
        account = service.get_account(session, actor.account_id or 0)
        if account is None:
            raise NotFound("no such account")
        return MeRead.of(account)


@router.get("/departments", response_model=list[DepartmentRead])
def departments(actor: Annotated[Principal, require(P.CONSOLE)]) -> list[DepartmentRead]:
    with unit_of_work() as session:
        return [DepartmentRead.model_validate(d) for d in service.list_departments(session)]


@router.get("/staff", response_model=list[StaffRead])
def list_staff(actor: Annotated[Principal, require(P.STAFF_READ)]) -> list[StaffRead]:
    with unit_of_work() as session:
        return [StaffRead.of(a) for a in service.list_accounts(session)]


@router.post("/staff", status_code=201, response_model=StaffCreated,
             responses={409: {"description": "username taken, or Idempotency-Key reused"}})
def create_staff(body: StaffIn, actor: Annotated[Principal, require(P.STAFF_MANAGE)],
                 idem: IdempotencyKey) -> JSONResponse:
    with unit_of_work() as session:

        def create() -> StaffCreated:
            new = service.create_account(session, actor=actor, username=body.username, roles=body.roles,
                                         department_code=body.department, display_name=body.display_name,
                                         language=body.language)
            return StaffCreated(**StaffRead.of(new.account).model_dump(),
                                one_time_password=new.one_time_password, api_token=new.api_token)

        return idem.run(session, actor, create)


@router.post("/staff/{account_id}/unlock", response_model=StaffRead)
def unlock_staff(account_id: PathId, actor: Annotated[Principal, require(P.STAFF_MANAGE)]) -> StaffRead:
    with unit_of_work() as session:
        account = service.get_account(session, account_id)
        if account is None:
            raise NotFound("no such staff account", field="account_id")
        service.unlock(session, account=account, actor=actor)
        return StaffRead.of(account)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(actor: Annotated[Principal, require(P.OWN_TOKENS)]) -> list[TokenRead]:
    with unit_of_work() as session:
        return [TokenRead.of(t) for t in service.list_api_tokens(session, account_id=actor.account_id or 0)]


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def create_token(body: TokenIn, actor: Annotated[Principal, require(P.OWN_TOKENS)],
                 idem: IdempotencyKey) -> JSONResponse:
    with unit_of_work() as session:

        def create() -> TokenCreated:
            account = service.require_active(service.get_account(session, actor.account_id or 0))
            issued = service.issue_api_token(session, account=account, actor=actor, name=body.name)
            return TokenCreated(**TokenRead.of(issued.row).model_dump(), token=issued.token)

        return idem.run(session, actor, create)


@router.post("/tokens/{token_id}/revoke", response_model=TokenRead)
def revoke_token(token_id: PathId, actor: Annotated[Principal, require(P.OWN_TOKENS)]) -> TokenRead:
    with unit_of_work() as session:
        return TokenRead.of(service.revoke_api_token(session, token_id=token_id, actor=actor))

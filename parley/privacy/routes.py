"""HTTP routes for personal data: /users/me/export (now, or in the background) and
DELETE /users/me (erasure)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from parley.accounts.dependencies import CurrentUser
from parley.core.db import utcnow
from parley.core.deps import SessionDep
from parley.core.schemas import error_responses
from parley.privacy import erase, exports
from parley.privacy.schemas import ErasureRequest, ExportOut

router = APIRouter(tags=["privacy"])

_ZIP = {"content": {"application/zip": {}}, "description": "The zip archive, streamed"}
_EXPORT_LIMIT = {429: "RATE_LIMITED: too many exports started this hour (EXPORTS)"}
_EXPORT_MISSING = {404: "EXPORT_NOT_FOUND: no such export of yours (or it expired)"}


def _attachment_headers() -> dict[str, str]:
    name = f"parley-export-{utcnow():%Y%m%d-%H%M%S}.zip"
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/users/me/export",
    response_class=StreamingResponse,
    responses={200: _ZIP, **error_responses(_EXPORT_LIMIT)},
    summary="Export my data now (a streamed zip)",
)
async def export_now(user: CurrentUser, session: SessionDep) -> StreamingResponse:
    """Profile, conversations, messages, reactions, edit history and uploaded files as a zip
    streamed while it is read (see docs/api.md, Export)."""
    chunks = await exports.stream_export(session, user_id=user.id)
    return StreamingResponse(chunks, media_type="application/zip", headers=_attachment_headers())


@router.post(
    "/users/me/export",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportOut,
    responses=error_responses(_EXPORT_LIMIT),
    summary="Start a background export",
)
async def start_export(user: CurrentUser, session: SessionDep) -> ExportOut:
    """The same archive, written in the background; follow it with GET
    /users/me/export/{id} and download it once DONE (it expires after EXPORT_TTL_HOURS)."""
    return await exports.start_export(session, user_id=user.id)


@router.get(
    "/users/me/export/{export_id}",
    response_model=ExportOut,
    responses=error_responses(_EXPORT_MISSING),
    summary="A background export's status and progress",
)
async def get_export(export_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> ExportOut:
    return await exports.get_export(session, user_id=user.id, export_id=export_id)


@router.get(
    "/users/me/export/{export_id}/download",
    response_class=StreamingResponse,
    responses={
        200: _ZIP,
        **error_responses(
            {**_EXPORT_MISSING, 409: "EXPORT_NOT_READY: still being written, or FAILED"}
        ),
    },
    summary="Download a finished background export",
)
async def download_export(
    export_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> StreamingResponse:
    size, chunks = await exports.open_download(session, user_id=user.id, export_id=export_id)
    headers = {**_attachment_headers(), "Content-Length": str(size)}
    return StreamingResponse(chunks, media_type="application/zip", headers=headers)


@router.delete(
    "/users/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        {
            401: "INVALID_CREDENTIALS: the password is wrong; or the token's codes",
            422: "VALIDATION_ERROR: no password given",
            429: "RATE_LIMITED: too many failed attempts for this account (as for logins)",
        }
    ),
    summary="Erase my account and personal data",
)
async def erase_me(body: ErasureRequest, user: CurrentUser, session: SessionDep) -> Response:
    """Irreversible: see docs/api.md (Erasure) for what is erased and what is kept."""
    await erase.erase_account(session, user_id=user.id, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

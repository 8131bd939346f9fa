"""HTTP routes for attachments: upload (multipart, streamed) and download (ranges, ETag)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import Response, StreamingResponse

from parley.accounts.dependencies import CurrentUser
from parley.attachments import queries
from parley.attachments.actions.upload import upload_attachment
from parley.attachments.download import plan_download
from parley.attachments.schemas import AttachmentOut
from parley.core.deps import ReadSessionDep, SessionDep
from parley.core.schemas import error_responses

router = APIRouter(prefix="/attachments", tags=["attachments"])

_FILE = {"type": "string", "format": "binary"}

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "conversationId": {
                            "type": "string",
                            "format": "uuid",
                            "description": "Optional: check canUploadFiles there now",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    response_model_exclude_none=True,
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(
        {
            403: "PERMISSION_DENIED: no canUploadFiles in the named conversation",
            404: "CONVERSATION_NOT_FOUND: conversationId names none of the caller's",
            413: "FILE_TOO_LARGE past MAX_FILE_SIZE (nothing is kept); PAYLOAD_TOO_LARGE "
            "when the declared body is already too large",
            422: "VALIDATION_ERROR: not multipart/form-data, no `file` field, malformed",
            429: "RATE_LIMITED (scope UPLOADS) past RATE_LIMIT_UPLOADS_PER_HOUR, Retry-After",
        }
    ),
)
async def upload(request: Request, user: CurrentUser, session: SessionDep) -> AttachmentOut:
    """Upload one file in the multipart field `file`; streamed to storage, typed from its
    bytes."""
    return await upload_attachment(
        session,
        uploader_id=user.id,
        content_type=request.headers.get("content-type"),
        body=request.stream(),
    )


@router.get(
    "/{attachment_id}",
    response_class=StreamingResponse,
    responses={
        # The sniffed type of each file (image/png, application/pdf, ...): any type.
        200: {"description": "The file", "content": {"*/*": {"schema": _FILE}}},
        206: {
            "description": "Range: the bytes asked for, with Content-Range",
            "content": {"*/*": {"schema": _FILE}},
        },
        304: {"description": "If-None-Match matched the ETag"},
        **error_responses(
            {
                404: "ATTACHMENT_NOT_FOUND: no such file, or not one the caller may fetch",
                416: "RANGE_NOT_SATISFIABLE, with Content-Range: bytes */size",
                500: "ATTACHMENT_UNREADABLE: the stored file fails authentication "
                "(altered) or was sealed with a key ENCRYPTION_KEYS lacks",
            }
        ),
    },
)
async def download(
    attachment_id: uuid.UUID,
    user: CurrentUser,
    session: ReadSessionDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> Response:
    """The file, for its uploader and the members of conversations where a message carries
    it; honours Range (one range), If-Range and If-None-Match."""
    attachment = await queries.downloadable(session, attachment_id=attachment_id, user_id=user.id)
    return await plan_download(
        attachment, range_header=range_header, if_none_match=if_none_match, if_range=if_range
    )

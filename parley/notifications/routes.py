"""The webhook Parley calls (OpenAPI `webhooks`): documented here, served by the receiver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from parley.notifications.schemas import NotificationPayload

webhooks = APIRouter()


@webhooks.post(
    "notification.send",
    tags=["notifications"],
    status_code=204,
    responses={
        200: {"description": "Any 2xx: delivered"},
        429: {"description": "Retried (after Retry-After, if given)"},
        500: {"description": "Any 5xx, 408, a timeout or a connection error: retried"},
        400: {"description": "Any other 4xx: final, not retried"},
    },
)
def notification_send(
    body: NotificationPayload,
    x_parley_signature: Annotated[
        str,
        Header(
            description='`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under '
            "NOTIFY_WEBHOOK_SECRET>`: check it before trusting the body (docs/api.md, "
            "Notifications)"
        ),
    ],
    x_parley_delivery: Annotated[
        str, Header(description="The payload's `id`: the same across retries")
    ],
) -> None:
    """POSTed to NOTIFY_WEBHOOK_URL at the end of a recipient's batching window: the messages
    they missed while no socket of theirs was connected (never encrypted content)."""

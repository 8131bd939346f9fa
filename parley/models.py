"""Every table's model in one import, so `Base.metadata` knows all tables (Alembic, tests)."""

from types import ModuleType

from parley.accounts import models as accounts
from parley.attachments import models as attachments
from parley.conversations import models as conversations
from parley.core import audit, idempotency
from parley.messages import models as messages
from parley.privacy import models as privacy
from parley.retention import models as retention
from parley.screening import models as screening

MODEL_MODULES: tuple[ModuleType, ...] = (
    accounts,
    attachments,
    audit,
    conversations,
    idempotency,
    messages,
    retention,
    privacy,
    screening,
)


def import_all_models() -> tuple[ModuleType, ...]:
    """The modules that define tables (importing this module registered them all)."""
    return MODEL_MODULES

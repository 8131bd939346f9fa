"""Imports every domain's models so `Base.metadata` knows all tables (Alembic, tests)."""


def import_all_models() -> None:
    from parley.accounts import models as _accounts  # noqa: F401
    from parley.attachments import models as _attachments  # noqa: F401
    from parley.audit import models as _audit  # noqa: F401
    from parley.conversations import models as _conversations  # noqa: F401
    from parley.messages import models as _messages  # noqa: F401
    from parley.moderation import models as _moderation  # noqa: F401

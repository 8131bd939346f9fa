"""The audit trail as owners and admins read it (`GET /audit`); entries are written by each
action through `parley/core/audit.py`."""

"""Retention: deleting messages older than RETENTION_DAYS or a conversation's
`settings.retentionDays` (the shorter wins), on one instance at a time (a lease in the
database), every RETENTION_INTERVAL and from `parley retention run`."""

"""Conversation state changes: one module per kind of change, each with its audit entry,
cache invalidation and events. Actions take `session` plus keyword-only arguments and never
commit (the request's unit of work does)."""

"""Personal data: the export of a user's data and its erasure (GDPR). An orchestrator: every
row it changes is changed by the owning domain's action."""

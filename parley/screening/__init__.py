"""Screening: every sent or edited text is scored before the ack; a flagged one goes to the
review queue in the same transaction, a very likely abusive one is also held. Humans review
the queue in `parley/moderation/`."""

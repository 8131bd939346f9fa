"""Moderation: the review queue as reviewers see it, and their decisions (the automatic
scoring on send and edit is `parley/screening/`)."""

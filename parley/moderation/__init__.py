"""Moderation: content scoring on send and edit, the review queue, and decisions."""

"""Conversation analytics for owners and admins: per-day counters and indexed queries."""

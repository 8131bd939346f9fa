"""`search`: full-text search over the messages a caller may read."""

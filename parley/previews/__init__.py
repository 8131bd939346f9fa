"""`previews`: link previews fetched after the commit, never on the send path."""

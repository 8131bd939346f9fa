"""Message state changes: one module per kind of change, each with its audit entry and
events. New messages go through the committer (group commit, `send.py`); edits, deletes,
reactions and review outcomes are ordinary request transactions that never commit themselves."""

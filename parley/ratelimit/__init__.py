"""Rate limits on sending (per user per conversation per minute, per user per hour), on edits
and on reactions (per user per conversation per minute)."""

"""Scheduled messages: held sends (`scheduledAt`), their owner's list and changes, and the
dispatcher that passes each through the ordinary send action at its time, once."""

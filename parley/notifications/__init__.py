"""`notifications`: the push path (`notification.send`) for recipients who are not online."""

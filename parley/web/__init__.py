"""Serves the web client's build (`web/dist`, made by `make install`) at `/`."""

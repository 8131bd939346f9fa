"""Parley: enterprise messaging backend."""

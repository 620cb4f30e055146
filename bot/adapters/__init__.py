"""Adapters translate between a messaging platform and the platform-neutral core."""

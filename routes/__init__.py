"""Routing, gray release, retry and dead-letter policy, and the message pipeline."""

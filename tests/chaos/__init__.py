"""Chaos tests: real worker processes killed, stopped and starved of Redis while they work."""

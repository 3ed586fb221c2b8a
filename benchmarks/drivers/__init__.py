"""Per-library drivers: run inside each library's own virtualenv."""

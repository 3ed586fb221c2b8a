"""Task modules imported by each library's worker CLI (cwd = repository root)."""

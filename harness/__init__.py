"""Test and benchmark harness: local hosts and the app served and driven in chromium (not installed)."""

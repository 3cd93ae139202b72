"""What the tests and the benchmarks share, not installed: the app served on both routes and watched,
driven in chromium as visitors do, the real photos, local hosts (docs/contributing.md)."""

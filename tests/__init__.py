"""specc's test suite (a package so that ``python -m tests.regenerate_golden`` works)."""

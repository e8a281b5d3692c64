"""The project's tests: each runs on its own database (see conftest.py)."""

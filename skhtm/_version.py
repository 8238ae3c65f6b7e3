"""The skhtm version: one place, read by pyproject.toml and stored in pickles."""

__version__ = "0.1.0.dev0"

"""Run state on disk: the SQLite store and what a run records as it creates things."""

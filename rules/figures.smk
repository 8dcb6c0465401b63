"""Rules of the figures phase (filled in by its issue)."""

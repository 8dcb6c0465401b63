"""Rules of the simulate phase (filled in by its issue)."""

"""Rules of the placement phase (filled in by its issue)."""

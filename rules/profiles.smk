"""Rules of the profiles phase (filled in by its issue)."""

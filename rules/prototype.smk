"""Rules of the prototype phase (filled in by its issue)."""

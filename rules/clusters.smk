"""Rules of the clusters phase (filled in by its issue)."""

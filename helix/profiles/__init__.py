"""Per-layer profiles, per-GPU engine limits and typical-throughput tables (the profiles phase)."""

"""Planning above placement and the simulator: what needs both (re-ranking layouts by simulation,
validating the served-throughput estimate). Placement never imports the simulator; this package
imports both (dependency direction: docs/served-throughput.md, conventions)."""

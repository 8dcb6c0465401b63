"""Planning above placement and the simulator: what needs both (re-ranking layouts by simulation,
validating the served-throughput estimate). Placement never imports the simulator; this package
imports both (docs/design/README.md, "Dependency direction"; docs/design/served-throughput.md)."""

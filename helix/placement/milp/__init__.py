"""The placement MILP (docs/design/placement.md s2) and its solver backends (a registry: highs, cpsat, gurobi)."""

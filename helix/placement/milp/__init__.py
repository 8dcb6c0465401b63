"""The placement MILP (placement.md s2) and its solver backends (a registry: highs, cpsat, gurobi)."""

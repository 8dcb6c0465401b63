"""The placement MILP (docs/design/placement.md s2) and its solver backends.

A registry: highs, cpsat, gurobi.
"""

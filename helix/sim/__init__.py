"""Discrete-event simulator of one placement on one cluster."""

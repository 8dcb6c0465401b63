"""Cluster definitions: generators for the paper's clusters and the artifact ini reader/writer."""

"""helix-workflow: reproduce and extend Helix (ASPLOS'25) LLM serving over heterogeneous GPUs."""

__version__ = "0.1.0"

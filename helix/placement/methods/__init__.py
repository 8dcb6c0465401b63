"""Placement methods, one per file; each registers itself with ``@register(name)``."""

"""Importers of the authors' public artifact (data files only) into the project's own formats."""

"""Submissions as tables: flattening, types, export names and labels."""

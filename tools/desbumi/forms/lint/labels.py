"""Lint rules: labels."""

from __future__ import annotations


def check(ctx):
    return []

"""Lint rules: survey."""

from __future__ import annotations


def check(ctx):
    return []

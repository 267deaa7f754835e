"""Lint rules: names."""

from __future__ import annotations


def check(ctx):
    return []

"""Lint rules: choices."""

from __future__ import annotations


def check(ctx):
    return []

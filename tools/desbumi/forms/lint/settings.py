"""Lint rules: settings."""

from __future__ import annotations


def check(ctx):
    return []

"""Lint rules: offline."""

from __future__ import annotations


def check(ctx):
    return []

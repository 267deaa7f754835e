"""Lint rules: personal."""

from __future__ import annotations


def check(ctx):
    return []

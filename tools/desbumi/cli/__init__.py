"""The desbumi-sync command line: a thin layer over the library (parse, call, render, map errors)."""

"""desbumi: offline-first survey toolkit for Migrant CARE's DESBUMI programme."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("desbumi")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

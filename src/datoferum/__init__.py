"""Datoferum: carries data files from capture to purge, with proof of every step."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("datoferum")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

"""kerasweep's version, one copy: the package, the command line, the dashboard and the
wheel's metadata (pyproject.toml reads it) all take it from here.

Example:
    >>> from kerasweep._version import __version__
    >>> __version__.count(".")
    2
"""

__version__ = "0.1.0"

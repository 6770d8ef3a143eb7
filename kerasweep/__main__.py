"""``python -m kerasweep`` runs the command line."""

from kerasweep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

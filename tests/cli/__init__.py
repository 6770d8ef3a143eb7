"""Tests of the command line as a shell user runs it (kerasweep.cli)."""

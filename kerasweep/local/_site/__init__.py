"""Put on a program run's ``PYTHONPATH`` by the local agent (see kerasweep.local.program)."""

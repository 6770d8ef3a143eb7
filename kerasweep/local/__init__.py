"""The offline sweep controller: W&B's engine, state in SQLite."""

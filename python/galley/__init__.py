"""Python client for Galley, the internal ML platform: the feature store for now (`galley.features`)."""

from galley._http import GalleyError, resolve_url

__all__ = ["GalleyError", "resolve_url", "features"]
__version__ = "0.1.0"


def __getattr__(name):  # `galley.features` without importing pandas until it is used
    if name == "features":
        import importlib

        return importlib.import_module("galley.features")
    raise AttributeError(name)

"""Shared fixtures for export tests (the repo root is on sys.path via pytest's ``pythonpath``)."""
import pytest


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """``name -> (torch model, onnx path)`` for every tiny family, exported lazily once."""
    from tiny_families import export_family

    out_dir = tmp_path_factory.mktemp("zoo")
    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = export_family(name, out_dir)
        return cache[name]

    return get

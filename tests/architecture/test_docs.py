"""Every public function shows how it is used: an `Examples` section, run as a doctest by the
suite (pyproject's ``--doctest-modules`` over the packages)."""

from __future__ import annotations

import importlib
import inspect

import pytest

NAMESPACES = ("synth", "synth.io", "evalkit", "mcc_core", "mcc_cli", "mcc_app")


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_public_functions_have_examples(namespace):
    module = importlib.import_module(namespace)
    functions = [name for name in module.__all__
                 if inspect.isfunction(getattr(module, name))]
    missing = [name for name in functions
               if ">>> " not in (getattr(module, name).__doc__ or "")
               or "Examples\n" not in (getattr(module, name).__doc__ or "")]
    assert functions and missing == []

"""Random text and random JSON never make the scene-config loader fail with anything but a
ValueError or TypeError naming the problem (each one line in the CLI, which reports both)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

import synth

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
FIELDS = [f for f in synth.SceneConfig().to_dict()]


def _loads_or_refuses(text):
    try:
        synth.SceneConfig.from_json(text)
    except (ValueError, TypeError) as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text):
    _loads_or_refuses(text)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json(value):
    _loads_or_refuses(json.dumps(value))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
       st.sampled_from([1, 2, None]))
def test_random_values_of_real_fields(fields, version):
    doc = dict(fields)
    if version is not None:
        doc["version"] = version
    _loads_or_refuses(json.dumps(doc))

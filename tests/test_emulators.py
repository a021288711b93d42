"""The emulators' own usage examples (emulators/__init__.py) run as written."""

import doctest

import emulators


def test_the_usage_examples_in_the_package_docstring_run():
    result = doctest.testmod(emulators, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 9
    assert result.failed == 0

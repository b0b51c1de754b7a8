"""Runs pytest on the files given as arguments: the `main` of every py_test in BUILD."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-p", "no:cacheprovider", *sys.argv[1:]]))

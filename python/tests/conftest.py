"""Shared fixtures: the data shipped in data/ and a small MLP fitted to the wine table."""
import os
import pathlib

import numpy as np
import pytest

SOURCE = pathlib.Path(os.environ.get("ATTRIB_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))


def sklearn_table(name):
    """A table in the sklearn layout of data/: a header line n,d,class names, then features and a label."""
    rows = np.loadtxt(SOURCE / "data" / name, delimiter=",", skiprows=1)
    return rows[:, :-1], rows[:, -1]


@pytest.fixture(scope="session")
def wine():
    return sklearn_table("wine/wine_data.csv")


@pytest.fixture(scope="session")
def breast_cancer():
    return sklearn_table("breast_cancer/breast_cancer.csv")


@pytest.fixture(scope="session")
def wine_mlp(wine):
    import attrib
    X, y = wine
    return attrib.Model.fit(X, y, model_type="mlp", hidden=[16, 16], epochs=40, seed=0)


@pytest.fixture(scope="session")
def cli():
    """The attrib command-line tool of the same build (ctest passes its path), or skip."""
    path = os.environ.get("ATTRIB_CLI")
    if not path or not os.path.exists(path):
        pytest.skip("ATTRIB_CLI is not set to the attrib command-line tool")
    return path

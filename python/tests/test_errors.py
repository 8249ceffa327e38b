"""Bad input raises a Python exception with the C++ message; exceptions of callbacks propagate
unchanged; nothing crashes."""
import numpy as np
import pytest

import attrib

f = lambda Z: Z @ np.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize("call, message", [
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), method="nope"), "unknown method 'nope'"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), method="lime", alhpa=1.0), "unknown option alhpa"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), method="lime", alpha="much"), "alpha expects a number"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(2)), "baseline has 2 columns, expected 3"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros((0, 3))), "baseline has no rows"),
    (lambda: attrib.explain(f, np.ones(3), None), "needs a baseline"),
    (lambda: attrib.explain(f, np.array([1.0, np.nan, 0.0]), np.zeros(3)), "X holds nan at [0, 1]"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), output=3), "output 3 is out of range; the model has 1"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), method="integrated-gradients"), "needs the model's input gradients"),
    (lambda: attrib.explain(f, np.ones((2, 2, 3)), np.zeros(3)), "X has 3 dimensions"),
    (lambda: attrib.explain(lambda Z: Z[:1, 0], np.ones(3), np.zeros(3)), "the model returned shape (1,) for 2 input rows"),
    (lambda: attrib.explain(lambda Z: "no", np.ones(3), np.zeros(3)), "expected an array of numbers"),
    (lambda: attrib.explain(lambda Z: np.full(len(Z), np.inf), np.ones(3), np.zeros(3)), "not finite"),
    (lambda: attrib.explain(42, np.ones(3), np.zeros(3)), "model must be an attrib.Model or a callable"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), groups=[0, 1]), "groups has 2 labels, expected one per feature (3)"),
    (lambda: attrib.explain(f, np.ones(3), np.zeros(3), method="kernel-shap", samples=-1), "samples must be between"),
    (lambda: attrib.Model.fit(np.ones((4, 2)), np.array([0.0, 1.5, 1.0, 0.0])), "is not a non-negative integer"),
    (lambda: attrib.Model.fit(np.ones((4, 2)), np.zeros(3)), "y has 3 labels but X has 4 rows"),
    (lambda: attrib.Model.fit(np.ones((4, 2)), np.array([0.0, 1, 0, 1]), model_type="forest"), "model_type must be"),
    (lambda: attrib.Model.fit(np.ones((4, 2)), np.array([0.0, 1, 0, 1]), model_type="mlp", hidden=[5000000, 5000000]), "more than the limit"),
    (lambda: attrib.data_attribution(np.ones((1, 2)), np.zeros(1), np.ones((1, 2)), np.zeros(1)), "at least 2 training points"),
    (lambda: attrib.data_attribution(np.ones((4, 2)), np.array([0.0, 1, 0, 1]), np.ones((1, 3)), np.zeros(1)), "X_test has 3 columns"),
    (lambda: attrib.data_attribution(np.ones((4, 2)), np.array([0.0, 1, 0, 1]), np.ones((1, 2)), np.zeros(1), method="what"), "unknown method 'what'"),
])
def test_bad_input_raises_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert message in str(caught.value)


def test_corrupt_model_file_raises_format_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format_version": 1, "type": "mlp", "layers": [')
    with pytest.raises(attrib.FormatError):
        attrib.Model.load(str(path))
    with pytest.raises(ValueError):  # FormatError is a ValueError
        attrib.Model.load(str(path))


@pytest.mark.parametrize("threads", [1, 2])
def test_an_exception_in_the_callable_propagates_unchanged(threads):
    class Refused(RuntimeError):
        pass

    calls = []

    def model(Z):
        calls.append(len(Z))
        if len(calls) > 2:
            raise Refused("the model refuses")
        return Z.sum(axis=1)

    with pytest.raises(Refused, match="the model refuses"):
        attrib.explain(model, np.ones((3, 12)), np.zeros(12), method="exact-shapley", threads=threads)
    # The module still works afterwards.
    e = attrib.explain(lambda Z: Z.sum(axis=1), np.ones(4), np.zeros(4), method="exact-shapley")
    np.testing.assert_allclose(e.values, np.ones(4))

"""10,000 calls leave the resident set flat: no leak of arrays, models or Python references."""
import numpy as np

import attrib


def resident_kib():
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 // 1024


def test_ten_thousand_calls_do_not_grow_memory():
    w = np.array([1.0, -1.0, 2.0, 0.5])
    model = lambda Z: Z @ w
    model_fitted = attrib.Model.fit(np.random.default_rng(0).normal(size=(40, 4)), np.arange(40) % 2)
    x, baseline = np.ones((2, 4)), np.zeros((3, 4))

    def calls(count):
        for k in range(count):
            attrib.explain(model, x, baseline, method="exact-shapley")
            attrib.explain(model_fitted, x, baseline, method="kernel-shap", samples=32, seed=k)
            try:
                attrib.explain(model, x, baseline, method="nope")
            except ValueError:
                pass

    calls(1000)  # warm-up: allocator pools and caches settle
    before = resident_kib()
    calls(10000)
    growth = resident_kib() - before
    assert growth < 2048, f"resident set grew by {growth} KiB over 10,000 calls"


def test_ten_thousand_hooked_runs_do_not_grow_memory():
    model = attrib.Transformer.random(n_layers=2, dim=16, n_heads=2, vocab_size=32, seed=0)
    _, cache = model.run_with_cache([1, 2, 3], names=["resid_pre.1"])

    def scale(values, tokens):
        values *= 0.5

    def calls(count):
        for k in range(count):
            hooks = attrib.Hooks().call("mlp_out.0", scale).replace("resid_pre.1", cache["resid_pre.1"], positions=[1])
            model.run_with_cache([1, 2, 3], names=["resid_post.1"], hooks=hooks)
            try:
                model.forward([1, 2, 99], hooks=hooks)
            except ValueError:
                pass

    calls(1000)
    before = resident_kib()
    calls(10000)
    growth = resident_kib() - before
    assert growth < 2048, f"resident set grew by {growth} KiB over 10,000 hooked runs"

"""attrib.Transformer and attrib.Hooks against outside references (the golden greedy ids of
stories260K, written by an independent implementation), closed forms of the residual stream, a
naive hook-by-hook patching, finite differences, and the command-line tool's numbers."""
import csv
import io
import json
import subprocess

import numpy as np
import pytest

import attrib
from conftest import SOURCE

STORIES = SOURCE / "data" / "models" / "stories260K"
CLEAN = "Lily saw a big dog in the park. The"
CORRUPTED = "Lily saw a big cat in the park. The"


@pytest.fixture(scope="module")
def stories():
    return attrib.Transformer.load(STORIES / "stories260K.bin", tokenizer=STORIES / "tok512.bin")


@pytest.fixture(scope="module")
def stories_gguf():
    return attrib.Transformer.load(STORIES / "stories260K.gguf")


def test_greedy_generation_matches_the_golden_ids(stories):
    golden = json.loads((STORIES / "golden_greedy.json").read_text())["prompts_steps_64"]
    for prompt, expected in golden.items():
        ids = stories.encode(prompt)
        assert ids == expected["prompt_ids"]
        want = expected["greedy_ids_including_prompt"]
        got = stories.generate(ids, max_new_tokens=len(want) - len(ids), stop=[1])
        assert got == want[:len(got)] and (len(got) == len(want) or got[-1] == 1), prompt


def test_checkpoint_formats_agree(stories, stories_gguf):
    # The GGUF file declares a longer context than the llama2.c header; the weights are the same.
    same = lambda c: {k: v for k, v in c.items() if k != "context_length"}
    assert same(stories.config) == same(stories_gguf.config)
    ids = stories.encode(CLEAN)
    assert stories_gguf.encode(CLEAN) == ids
    np.testing.assert_allclose(stories.forward(ids), stories_gguf.forward(ids), atol=1e-5)
    hf = attrib.Transformer.load(SOURCE / "data" / "models" / "stories260K-instruct")
    assert hf.format != stories.format and hf.config["dim"] == stories.config["dim"]
    assert hf.forward(ids).shape == (len(ids), stories.config["vocab_size"])


def test_cache_obeys_the_residual_stream_identities(stories):
    ids = stories.encode(CLEAN)
    logits, cache = stories.run_with_cache(ids)
    c = stories.config
    assert len(cache) == 2 + 9 * c["n_layers"]
    for layer in range(c["n_layers"]):
        pre, mid, post = (cache[f"{k}.{layer}"] for k in ("resid_pre", "resid_mid", "resid_post"))
        assert pre.shape == (len(ids), c["dim"]) and pre.dtype == np.float32
        np.testing.assert_allclose(mid, pre + cache[f"attn_out.{layer}"], atol=1e-5)
        np.testing.assert_allclose(post, mid + cache[f"mlp_out.{layer}"], atol=1e-5)
        assert cache[f"mlp_post.{layer}"].shape == (len(ids), c["hidden_dim"])
        if layer + 1 < c["n_layers"]:
            np.testing.assert_array_equal(post, cache[f"resid_pre.{layer + 1}"])
    np.testing.assert_array_equal(cache["embed"], cache["resid_pre.0"])
    np.testing.assert_array_equal(logits, stories.forward(ids))
    only = stories.run_with_cache(ids, names=["resid_post.2"])[1]
    assert list(only) == ["resid_post.2"]
    np.testing.assert_array_equal(only["resid_post.2"], cache["resid_post.2"])


def test_batch_rows_equal_single_runs():
    model = attrib.Transformer.random(n_layers=2, dim=16, n_heads=4, n_kv_heads=2, vocab_size=40, seed=3)
    rows = [[1, 5, 9, 2], [7, 3], [0, 39, 12, 4, 4]]
    batch = model.forward(rows)
    for row, logits in zip(rows, batch):
        np.testing.assert_allclose(logits, model.forward(row), atol=1e-6)
    last = model.forward(rows, last_only=True, logit_tokens=[4, 7])
    for row, logits in zip(rows, last):
        np.testing.assert_allclose(logits, model.forward(row)[-1:, [4, 7]], atol=1e-6)
    gpt2 = attrib.Transformer.random(architecture="gpt2", seed=1)
    assert gpt2.config["architecture"] == "gpt2" and gpt2.forward([1, 2, 3]).shape == (3, 64)


def test_hook_operations_have_their_closed_forms(stories):
    ids = stories.encode(CLEAN)
    dim = stories.config["dim"]
    plain = stories.forward(ids)
    zero = attrib.Hooks().add("resid_post.1", np.zeros(dim)).scale("mlp_out.0", 1.0)
    np.testing.assert_array_equal(stories.forward(ids, hooks=zero), plain)

    direction = np.random.default_rng(0).normal(size=dim)
    hooks = attrib.Hooks().project_out("resid_pre.2", direction)
    cached = stories.run_with_cache(ids, names=["resid_pre.2"], hooks=hooks)[1]["resid_pre.2"]
    assert np.abs(cached @ direction).max() < 1e-4 * np.abs(direction).sum()

    doubled = stories.forward(ids, hooks=attrib.Hooks().scale("attn_out.1", 2.0, positions=[3, 4]))

    def double_in_place(values, tokens):
        assert values.dtype == np.float32 and tokens.shape == (len(values), 2)
        values[np.isin(tokens[:, 1], [3, 4])] *= 2

    np.testing.assert_array_equal(stories.forward(ids, hooks=attrib.Hooks().call("attn_out.1", double_in_place)),
                                  doubled)

    def doubled_copy(values, tokens):
        out = values.copy()
        out[np.isin(tokens[:, 1], [3, 4])] *= 2
        return out

    np.testing.assert_array_equal(stories.forward(ids, hooks=attrib.Hooks().call("attn_out.1", doubled_copy)), doubled)
    assert not np.allclose(doubled, plain)

    steer = np.random.default_rng(1).normal(size=dim)
    added = stories.run_with_cache(ids, names=["resid_post.0"], hooks=attrib.Hooks().add("resid_post.0", steer, 0.5))
    base = stories.run_with_cache(ids, names=["resid_post.0"])[1]["resid_post.0"]
    np.testing.assert_allclose(added[1]["resid_post.0"], base + 0.5 * steer.astype(np.float32), atol=1e-6)


def test_replace_restores_the_clean_run_and_patches_across_models(stories, stories_gguf):
    clean, corrupted = stories.encode(CLEAN), stories.encode(CORRUPTED)
    last = stories.config["n_layers"] - 1
    _, cache = stories.run_with_cache(clean, names=[f"resid_post.{last}"])
    patched = stories.forward(corrupted, hooks=attrib.Hooks().replace(f"resid_post.{last}", cache[f"resid_post.{last}"],
                                                                       positions=[len(clean) - 1]))
    np.testing.assert_allclose(patched[-1], stories.forward(clean)[-1], atol=1e-5)
    # The source may come from another model of the same width (here: the same weights, read
    # from the GGUF file), which is how cross-model patching is written.
    patched_gguf = stories_gguf.forward(corrupted, hooks=attrib.Hooks().replace(
        f"resid_post.{last}", cache[f"resid_post.{last}"], positions=[len(clean) - 1]))
    np.testing.assert_allclose(patched_gguf[-1], stories.forward(clean)[-1], atol=1e-5)


def test_generation_with_steering_equals_a_greedy_loop_with_the_same_hooks(stories):
    dim = stories.config["dim"]
    steer = np.random.default_rng(2).normal(size=dim) * 2
    hooks = attrib.Hooks().add("resid_post.2", steer)
    prompt = stories.encode("Once upon a time")
    generated = stories.generate(prompt, max_new_tokens=12, hooks=hooks, stop=[])
    ids = list(prompt)
    for _ in range(12):
        ids.append(int(np.argmax(stories.forward(ids, hooks=hooks, last_only=True)[0])))
    assert generated == ids
    assert generated != stories.generate(prompt, max_new_tokens=12, stop=[])
    text = stories.generate("Once upon a time", max_new_tokens=12, hooks=hooks, stop=[])
    assert text.startswith("Once upon a time") and text == stories.decode(generated)
    sampled = [stories.generate(prompt, max_new_tokens=8, temperature=1.0, seed=s, stop=[]) for s in (5, 5, 6)]
    assert sampled[0] == sampled[1]


def test_patching_sweep_equals_naive_patching_and_closed_forms(stories):
    clean, corrupted = stories.encode(CLEAN), stories.encode(CORRUPTED)
    sweep = stories.patching_sweep(CLEAN, CORRUPTED, method="both", layers=[0, 2, 4])
    n = len(clean)
    assert sweep.exact.shape == sweep.attribution.shape == (3, n)
    # Positions before the first differing token ("dog"/"cat") change nothing, by either method.
    first = next(p for p in range(n) if clean[p] != corrupted[p])
    assert first == 5 and np.all(sweep.exact[:, :first] == 0) and np.all(sweep.attribution[:, :first] == 0)

    def metric(logits):
        value = logits[-1, sweep.target]
        return value - logits[-1, sweep.contrast] if sweep.contrast is not None else value

    assert metric(stories.forward(clean)) == pytest.approx(sweep.clean_value, abs=1e-5)
    _, cache = stories.run_with_cache(clean, names=[f"resid_pre.{layer}" for layer in sweep.layers])
    base = metric(stories.forward(corrupted))
    for i, layer in enumerate(sweep.layers):
        for position in (5, 7, n - 1):
            name = f"resid_pre.{layer}"
            hooks = attrib.Hooks().replace(name, cache[name], positions=[position])
            assert sweep.exact[i, position] == pytest.approx(metric(stories.forward(corrupted, hooks=hooks)) - base,
                                                             abs=1e-4)
    post = stories.patching_sweep(clean, corrupted, point="resid_post", layers=[4])
    assert post.exact[0, -1] == pytest.approx(post.clean_value - post.corrupted_value, abs=1e-4)
    assert "exact" in repr(sweep) and sweep.token_labels[5] == stories.to_str_tokens(clean)[5] + " / " + stories.to_str_tokens(corrupted)[5]


def test_patching_sweep_matches_the_command_line(stories, cli, tmp_path):
    out = tmp_path / "patch.csv"
    subprocess.run([cli, "llm", "patch", "--model", str(STORIES / "stories260K.bin"), "--tokenizer",
                    str(STORIES / "tok512.bin"), "--clean", CLEAN, "--corrupted", CORRUPTED, "--point", "resid_post",
                    "--method", "both", "--out", str(out), "--quiet"], check=True)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    sweep = stories.patching_sweep(CLEAN, CORRUPTED, point="resid_post", method="both")
    for row in rows:
        layer, position = int(row["layer"]), int(row["position"])
        assert float(row["exact"]) == pytest.approx(sweep.exact[layer, position], rel=1e-7, abs=1e-7)
        assert float(row["attribution"]) == pytest.approx(sweep.attribution[layer, position], rel=1e-7, abs=1e-7)
    assert len(rows) == sweep.exact.size


def test_gradients_match_finite_differences_and_attribution_patching(stories):
    ids = stories.encode(CORRUPTED)
    dog, cat = stories.encode(CLEAN)[5], ids[5]
    g = stories.gradients(ids, ["resid_pre.2", "mlp_post.1"], target=dog, contrast=cat)
    # Texts that are one token name it: "The" is 291 and "big" 370 in this vocabulary.
    assert stories.gradients(ids, "resid_pre.2", target="The", contrast="big").value == pytest.approx(
        stories.gradients(ids, "resid_pre.2", target=291, contrast=370).value, abs=0)
    logits = stories.forward(ids)
    assert g.value == pytest.approx(logits[-1, dog] - logits[-1, cat], abs=1e-5)
    rng = np.random.default_rng(4)
    for name, position in (("resid_pre.2", 5), ("resid_pre.2", len(ids) - 1), ("mlp_post.1", 3)):
        d = rng.normal(size=g.activations[name].shape[1])
        eps = 1e-2

        def f(sign):
            z = stories.forward(ids, hooks=attrib.Hooks().add(name, sign * eps * d, positions=[position]))
            return float(z[-1, dog]) - float(z[-1, cat])

        fd = (f(1) - f(-1)) / (2 * eps)
        assert g.gradients[name][position] @ d == pytest.approx(fd, rel=2e-2, abs=2e-3)
    sweep = stories.patching_sweep(CLEAN, CORRUPTED, layers=[2], target=dog, contrast=cat, method="attribution")
    clean_cache = stories.run_with_cache(CLEAN, names=["resid_pre.2"])[1]
    np.testing.assert_allclose(g.patching_estimate("resid_pre.2", clean_cache["resid_pre.2"]), sweep.attribution[0],
                               rtol=1e-4, atol=1e-5)


def test_patching_heatmap(stories, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    sweep = stories.patching_sweep(CLEAN, CORRUPTED, method="both", layers=[1, 3])
    ax = sweep.plot()
    assert ax.get_title() == "activation patching (exact)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["resid_pre.1", "resid_pre.3"]
    assert any(" / " in t.get_text() for t in ax.get_xticklabels())
    ax = attrib.plots.patching(sweep, method="attribution")
    ax.figure.savefig(tmp_path / "patching.png")
    assert (tmp_path / "patching.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="no attribution cells"):
        attrib.plots.patching(stories.patching_sweep(CLEAN, CORRUPTED, layers=[0]), method="attribution")


def test_errors_name_the_problem(stories, tmp_path):
    model = attrib.Transformer.random(seed=0)
    with pytest.raises(ValueError, match="no tokenizer"):
        model.forward("a text")
    with pytest.raises(ValueError, match="outside the vocabulary|vocabulary"):
        model.forward([1, 2, 64])
    with pytest.raises(ValueError, match="empty"):
        model.forward([])
    with pytest.raises(ValueError, match="float"):
        model.forward([1.5, 2.0])
    with pytest.raises(ValueError, match="the model has 2 layers"):
        model.forward([1, 2], hooks=attrib.Hooks().scale("resid_post.2", 2.0))
    with pytest.raises(ValueError, match="resid_bogus"):
        attrib.Hooks().scale("resid_bogus.1", 2.0)
    with pytest.raises(ValueError, match="finite"):
        attrib.Hooks().add("resid_post.0", np.array([np.nan] * 32))
    with pytest.raises(ValueError, match="non-zero"):
        attrib.Hooks().project_out("resid_post.0", np.zeros(32))
    with pytest.raises(ValueError, match="width|32"):
        model.forward([1, 2], hooks=attrib.Hooks().add("resid_post.0", np.ones(5)))
    with pytest.raises(ValueError, match="must match"):
        stories.patching_sweep("Lily saw a dog", "Lily saw a girl")
    with pytest.raises(ValueError, match="method must be"):
        stories.patching_sweep(CLEAN, CORRUPTED, method="approximate")
    with pytest.raises(ValueError, match="layer 9"):
        stories.patching_sweep(CLEAN, CORRUPTED, layers=[9])
    with pytest.raises(ValueError, match="is 14 tokens .*expected one"):
        stories.patching_sweep(CLEAN, CORRUPTED, target="a whole sentence of words")
    with pytest.raises(ValueError, match="architecture"):
        attrib.Transformer.random(architecture="mamba")
    with pytest.raises(ValueError, match="n_heads|dim"):
        attrib.Transformer.random(dim=30, n_heads=4)
    (tmp_path / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 5)
    with pytest.raises(ValueError):
        attrib.Transformer.load(tmp_path / "broken.gguf")
    with pytest.raises(ValueError, match="does not exist|no such|cannot|not found"):
        attrib.Transformer.load(tmp_path / "missing.bin")

    def broken(values, tokens):
        raise KeyError("raised inside the hook")

    with pytest.raises(KeyError, match="raised inside the hook"):
        model.forward([1, 2, 3], hooks=attrib.Hooks().call("mlp_out.1", broken))
    with pytest.raises(ValueError, match="shape"):
        model.forward([1, 2, 3], hooks=attrib.Hooks().call("mlp_out.1", lambda v, t: v[:1]))
    with pytest.raises(ValueError, match="finite"):
        model.forward([1, 2, 3], hooks=attrib.Hooks().call("mlp_out.1", lambda v, t: v * np.nan))
    with pytest.raises(ValueError, match="study must be"):
        attrib.llm_study("everything", tmp_path, "a", "b")


def test_llm_study_returns_what_the_command_line_writes(cli, tmp_path):
    post = SOURCE / "data" / "models" / "stories260K-instruct"
    options = dict(tokenizer=STORIES / "tok512.bin", post_name="instruct", dataset="cities", max_pairs=2)
    results = attrib.llm_study("knowledge", tmp_path / "py", STORIES / "stories260K.gguf", post, **options)
    assert list(results) == ["knowledge"]
    subprocess.run([cli, "llm", "study", "knowledge", "--base", str(STORIES / "stories260K.gguf"), "--post", str(post),
                    "--tokenizer", str(STORIES / "tok512.bin"), "--post-name", "instruct", "--dataset", "cities",
                    "--max-pairs", "2", "--out", str(tmp_path / "cli"), "--quiet"], check=True)
    assert results["knowledge"] == json.loads((tmp_path / "cli" / "knowledge.json").read_text())
    assert (tmp_path / "py" / "knowledge.svg").exists()
    # Run again into the same folder at once: the rewritten file is returned again, however
    # coarse the file system's clock.
    again = attrib.llm_study("knowledge", tmp_path / "py", STORIES / "stories260K.gguf", post, **options)
    assert again == results

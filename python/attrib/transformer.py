"""Transformers with hooks, in the spirit of TransformerLens: attrib.Transformer loads Llama and
GPT-2 checkpoints (llama2.c, GGUF, Hugging Face), runs them with attrib.Hooks, caches activations
as numpy arrays, generates with steering, sweeps activation patching exactly and by attribution
patching, and runs the LLM studies of docs/studies.md.
"""
import json
import pathlib

import numpy as np

from ._attrib import Hooks, Transformer, _llm_study


class PatchingSweep:
    """Activation patching of every (layer, position) of the clean prompt into the corrupted one.

    F = logit(target) - logit(contrast) (or logit(target) alone when contrast is None) at the last
    position. exact[i, p] = F(corrupted run with the stream at layers[i], position p taken from
    the clean run) - F(corrupted run); attribution[i, p] is attribution patching's first-order
    estimate of the same cell (one forward and one backward pass). Either is None when not run.
    """

    def __init__(self, fields, token_labels):
        self.point = fields["point"]
        self.layers = list(fields["layers"])
        self.clean_tokens = list(fields["clean_tokens"])
        self.corrupted_tokens = list(fields["corrupted_tokens"])
        self.target = fields["target"]
        self.contrast = fields["contrast"]
        self.clean_value = fields["clean_value"]
        self.corrupted_value = fields["corrupted_value"]
        self.exact = fields["exact"]
        self.attribution = fields["attribution"]
        self.token_labels = token_labels

    @property
    def positions(self):
        return len(self.clean_tokens)

    def plot(self, method="exact", ax=None):
        """The cells as a heatmap of layers x tokens (attrib.plots.patching)."""
        from .plots import patching
        return patching(self, method=method, ax=ax)

    def __repr__(self):
        methods = [m for m in ("exact", "attribution") if getattr(self, m) is not None]
        return (f"PatchingSweep({self.point}, {len(self.layers)} layers x {self.positions} positions, "
                f"F clean {self.clean_value:.6g}, corrupted {self.corrupted_value:.6g}, {' and '.join(methods)})")


def _labels(model, clean, corrupted):
    clean_labels = model.to_str_tokens(clean)
    corrupted_labels = model.to_str_tokens(corrupted)
    return [a if a == b else f"{a} / {b}" for a, b in zip(clean_labels, corrupted_labels)]


def patching_sweep(self, clean, corrupted, point="resid_pre", layers=None, target=None, contrast="auto",
                   method="exact", threads=1):
    """Patches the clean run's residual stream into the corrupted run at every layer and position.

    clean, corrupted: texts or token ids of the same length. point: "resid_pre" (each layer's
    input) or "resid_post" (its output). target: token id or one-token text (default: the clean
    run's most likely next token); contrast: "auto" (the corrupted run's most likely token when it
    differs from the target), None, or a token. method: "exact", "attribution" or "both".
    """
    fields = self._patching_sweep(clean, corrupted, point=point, layers=layers, target=target, contrast=contrast,
                                  method=method, threads=threads)
    return PatchingSweep(fields, _labels(self, fields["clean_tokens"], fields["corrupted_tokens"]))


class Gradients:
    """F = logit(target) [- logit(contrast)] at one position, with dF/d(activation) at hook points.

    activations[name] and gradients[name] are positions x width arrays; attribution patching of a
    point estimates F(patched) - F(run) as (gradients[name] * (other - activations[name])).sum(-1)
    per position.
    """

    def __init__(self, fields):
        self.value = fields["value"]
        self.activations = dict(fields["activations"])
        self.gradients = dict(fields["gradients"])

    def patching_estimate(self, name, other):
        """Attribution patching: the first-order change of F when each position's activation at
        `name` is replaced by `other`'s row (positions x width), one value per position."""
        other = np.asarray(other, dtype=np.float64)
        a = self.activations[name]
        if other.shape != a.shape:
            raise ValueError(f"other has shape {other.shape}; expected {a.shape}, the shape of {name}")
        return (self.gradients[name] * (other - a)).sum(axis=1)


def gradients(self, tokens, names, target, contrast=None, position=-1, threads=1):
    """dF/d(activation) at the named hook points of one prompt, by one backward pass.

    F = logit(target) - logit(contrast) (contrast None: logit(target)) at `position` (negative
    counts from the end). target and contrast: token ids or one-token texts.
    """
    if isinstance(names, str):
        names = [names]
    return Gradients(self._gradients(tokens, list(names), target, contrast=contrast, position=position,
                                     threads=threads))


Transformer.patching_sweep = patching_sweep
Transformer.gradients = gradients
Transformer.__repr__ = lambda self: (
    f"Transformer({self.config['architecture']}, {self.format}, {self.config['n_layers']} layers, "
    f"dim {self.config['dim']}, vocabulary {self.config['vocab_size']})")

STUDIES = ("knowledge", "transfer", "truth", "intervene", "refusal", "edit", "entropy", "all")


def llm_study(study, out, base, post, **options):
    """Runs one study of "How Post-Training Reshapes LLMs" (docs/studies.md) as `attrib llm study`
    does, writing its tables and pictures into the folder `out`, and returns the JSON results it
    wrote, by file stem (for example {"knowledge": {...}}).

    base, post: model paths (.gguf, llama2.c .bin with tokenizer=, Hugging Face directories).
    Options are the command's, with underscores for dashes (max_pairs=3, post_name="instruct",
    sft=path); True gives a flag, lists are joined with commas.
    """
    if study not in STUDIES:
        raise ValueError(f"study must be one of {', '.join(STUDIES)}; got {study!r}")
    args = [study, f"--base={base}", f"--post={post}", f"--out={out}", "--quiet"]
    for key, value in options.items():
        name = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(name)
        elif isinstance(value, (list, tuple)):
            args.append(f"{name}={','.join(str(v) for v in value)}")
        else:
            args.append(f"{name}={value}")
    folder = pathlib.Path(out)
    # The command writes each file to a temporary name and renames it over the old one, so a file
    # this run wrote is a new inode even when the clock has not moved since the last run; files
    # of earlier runs of other studies keep theirs and are left out.
    before = {p: p.stat().st_ino for p in folder.glob("*.json")} if folder.is_dir() else {}
    _llm_study(args)
    results = {}
    for path in sorted(folder.glob("*.json")):
        if before.get(path) != path.stat().st_ino:
            results[path.stem] = json.loads(path.read_text())
    return results


__all__ = ["Gradients", "Hooks", "PatchingSweep", "Transformer", "llm_study"]

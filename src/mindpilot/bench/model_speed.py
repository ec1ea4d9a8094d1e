"""Default model speed on this machine: load (first and cached; in full also a fresh process's
start + imports apart from its load), then each decoding option's tokens/s and time to first
token as ratios to two baselines measured in the same run, 1 torch thread: our plain float32
loop (one token per forward pass) and Hugging Face's `model.generate` (greedy, same prompt and
token count; in full also with its own prompt lookup). The full run adds the `onnx` runtimes
(ONNX Runtime, 1 thread: int8 and fp32 builds, each made once in the model cache) with their
quality guard: perplexity on NarrativeQA summaries against torch's, and where greedy text parts.

    python -m mindpilot.bench.model_speed [--tokens 64] [--repeats 3] [--quick]

The full run converts the bundled GGUF in a fresh temporary cache (a true first load); --quick
loads through the current cache (the first load converts only if nothing is cached yet).
Writes OUT/model_speed.json and .md (`--out`, default $MINDPILOT_HOME/bench), and prints
the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mindpilot.bench.common import (
    MODEL,
    add_out_option,
    default_out_dir,
    machine,
    set_threads,
    write_results,
)

NAME, TITLE = "model_speed", "Default model speed"
PROMPT = "Explain in a few sentences why the sky is blue."


def run(
    quick: bool = False, tokens: int | None = None, repeats: int | None = None
) -> dict[str, Any]:
    """Loads (and, in full, a fresh process's imports), then each decoding option against the
    plain loop and HF generate, alternated in one process, 1 thread."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokens = tokens or (12 if quick else 64)
    repeats = repeats or (1 if quick else 3)
    if quick:
        load = measure_loads()
    else:
        with _fresh_cache():
            load = measure_loads()
            load.update(cold_process())  # in the fresh cache: the conversion is made
    set_threads(1)
    decoders = onnx_decoders(quick)
    decode = measure_options(tokens, repeats, quick, decoders)
    quality = onnx_quality(decoders) if decoders else {}
    return {
        "machine": machine(1),
        "model": MODEL,
        "data": f"{len(decode)} prompts, {tokens} new tokens (greedy), median of {repeats}, "
        "options alternated in one process",
        "baseline": "our plain float32 loop (one token per pass) and transformers' "
        "model.generate, greedy, same prompt and token count",
        "load": load,
        "decode": decode,
        "onnx_quality": quality,
        "load_average": os.getloadavg(),
    }


@contextmanager
def _fresh_cache() -> Iterator[None]:
    """An empty MINDPILOT_CACHE for the duration, so the first load really converts."""
    before = os.environ.get("MINDPILOT_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MINDPILOT_CACHE"] = cache
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("MINDPILOT_CACHE", None)
            else:
                os.environ["MINDPILOT_CACHE"] = before


def measure_loads() -> dict[str, Any]:
    from mindpilot.autopilot import Autopilot, loading

    converted = not loading.cached_models()
    first = Autopilot.load().backend.load_seconds  # type: ignore[attr-defined]
    cached = Autopilot.load().backend.load_seconds  # type: ignore[attr-defined]
    return {"first_s": first, "cached_s": cached, "first_load_converted": converted}


_COLD = """
import time, json
t0 = time.perf_counter()
from mindpilot.autopilot.transformers_backend import TransformersBackend
t1 = time.perf_counter()
TransformersBackend.load()
print(json.dumps({"imports_s": t1 - t0, "load_s": time.perf_counter() - t1}))
"""


def cold_process() -> dict[str, float]:
    """A fresh Python that imports the backend and loads the cached default model: process
    start + imports, and the load, apart."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "process_imports_s": wall - figures["load_s"],
        "process_load_s": figures["load_s"],
        "process_total_s": wall,
    }


def prompts(quick: bool) -> dict[str, str]:
    """A grounded question (a NarrativeQA summary pasted, as self-taking composes it) and a
    general one; quick: the grounded one."""
    from mindpilot.bench.datasets import narrative_qa

    item = narrative_qa()[0]
    passage = " ".join(item.passage.split()[:60])  # ~100 prompt tokens in all
    grounded = f"Passage: {passage}\n\nQuestion: {item.question} Answer from the passage."
    return {"grounded": grounded} if quick else {"grounded": grounded, "general": PROMPT}


def measure_options(
    tokens: int, repeats: int, quick: bool, onnx: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per prompt: tokens/s and TTFT of each option, and their ratios to the plain loop and
    to HF generate (options alternate within each repeat, so load falls on all alike)."""
    from mindpilot.autopilot import Autopilot, Message

    backend: Any = Autopilot.load().backend
    options = [*OPTIONS] if not quick else ["plain loop", "lookahead (default)", "hf generate"]
    measures = {**OPTIONS, **{name: _onnx(d) for name, d in (onnx or {}).items()}}
    options += list(onnx or {})
    rows = []
    for label, text in prompts(quick).items():
        ids = backend.prompt_ids([Message("user", text)])
        runs: dict[str, list[tuple[float, float, str]]] = {o: [] for o in options}
        for _ in range(repeats):
            for option in options:
                runs[option].append(measures[option](backend, text, ids, tokens))
        figures = {o: _medians(r) for o, r in runs.items()}
        plain, hf = figures["plain loop"], figures["hf generate"]
        for f in figures.values():
            f["x_plain"] = f["tokens_per_s"] / plain["tokens_per_s"]
            f["x_hf_generate"] = f["tokens_per_s"] / hf["tokens_per_s"]
            f["ttft_x_plain"] = f["ttft_s"] / plain["ttft_s"]
        same = runs["lookahead (default)"][0][2] == runs["plain loop"][0][2]
        plain_text = runs["plain loop"][0][2]
        parts = {o: _common_prefix(runs[o][0][2], plain_text) for o in onnx or {}}
        rows.append({"prompt": label, "prompt_tokens": len(ids), "options": figures,
                     "lookahead_same_text": same, "onnx_same_chars": parts,
                     "plain_chars": len(plain_text)})  # fmt: skip
    backend.lookahead = True
    return rows


def _medians(runs: list[tuple[float, float, str]]) -> dict[str, Any]:
    return {
        "tokens_per_s": statistics.median(r[0] for r in runs),
        "ttft_s": statistics.median(r[1] for r in runs),
    }


def _ours(lookahead: bool) -> Callable[[Any, str, list[int], int], tuple[float, float, str]]:
    def measure(backend: Any, text: str, ids: list[int], tokens: int) -> tuple[float, float, str]:
        from mindpilot.autopilot import GenerationConfig, Message

        backend.lookahead = lookahead
        config = GenerationConfig(max_new_tokens=tokens)
        g = backend.generate([Message("user", text)], config)
        return g.tokens_per_second, g.timings.first_token_s, g.text

    return measure


def _hf(lookup: int | None) -> Callable[[Any, str, list[int], int], tuple[float, float, str]]:
    def measure(backend: Any, text: str, ids: list[int], tokens: int) -> tuple[float, float, str]:
        return _hf_generate(backend, ids, tokens, lookup)

    return measure


def _onnx(decoder: Any) -> Callable[[Any, str, list[int], int], tuple[float, float, str]]:
    """Our loop with the onnx runtime's passes (the backend's torch model otherwise idle)."""
    plain = _ours(False)

    def measure(backend: Any, text: str, ids: list[int], tokens: int) -> tuple[float, float, str]:
        backend.onnx = decoder
        try:
            return plain(backend, text, ids, tokens)
        finally:
            backend.onnx = None

    return measure


def _common_prefix(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


OPTIONS = {
    "plain loop": _ours(False),
    "lookahead (default)": _ours(True),
    "hf generate": _hf(None),
    "hf generate, prompt lookup": _hf(3),
}


def _hf_generate(
    backend: Any, ids: list[int], tokens: int, lookup: int | None
) -> tuple[float, float, str]:
    """(decode tokens/s with the prefill excluded, like ours; TTFT; text) of `generate`."""
    import torch

    prompt = torch.tensor([ids], device=backend.device)
    extra = {"prompt_lookup_num_tokens": lookup} if lookup else {}
    with torch.inference_mode():
        started = time.perf_counter()
        backend.model.generate(prompt, max_new_tokens=1, do_sample=False)
        prefill = time.perf_counter() - started
        started = time.perf_counter()
        out = backend.model.generate(
            prompt, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, **extra
        )
        total = time.perf_counter() - started
    new = out[0, len(ids) :].tolist()
    rate = (len(new) - 1) / max(total - prefill, 1e-9)
    return rate, prefill, backend.tokenizer.decode(new, skip_special_tokens=True)


def _median(repeats: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeats))


ONNX_RUNTIMES = {"onnx int8": "int8", "onnx fp32": "fp32"}


def onnx_decoders(quick: bool) -> dict[str, Any]:
    """The onnx runtimes' decoders for the default model (full run only: each is built once,
    ~30 s, in the run's cache), 1 thread."""
    if quick:
        return {}
    from mindpilot.autopilot import loading, onnx_decoder

    folder = loading.loadable_folder(loading.resolve(None))
    return {name: onnx_decoder.load(folder, p, 1) for name, p in ONNX_RUNTIMES.items()}  # type: ignore[arg-type]


# Perplexity guard: the first tokens of the first distinct NarrativeQA summaries, read token by
# token through each runtime's passes (the onnx builds keep only the last position's logits).
PPL_TEXTS, PPL_TOKENS = 8, 128


def onnx_quality(decoders: dict[str, Any]) -> dict[str, Any]:
    """Perplexity of torch (one forward pass) and each onnx runtime's decoder (`onnx_decoders`,
    stepped) on the same tokens; the goal: within 1% of torch's."""
    import torch

    from mindpilot.autopilot import Autopilot
    from mindpilot.bench.datasets import narrative_qa

    backend: Any = Autopilot.load().backend
    texts = list(dict.fromkeys(item.passage for item in narrative_qa()))[:PPL_TEXTS]
    docs = [backend.tokenizer(t)["input_ids"][:PPL_TOKENS] for t in texts]
    with torch.inference_mode():
        torch_nll = [
            torch.nn.functional.cross_entropy(
                backend.model(torch.tensor([d])).logits[0, :-1].float(),
                torch.tensor(d[1:]),
                reduction="sum",
            ).item()
            for d in docs
        ]
    result = {"torch": _ppl(torch_nll, docs)}
    for name, decoder in decoders.items():
        passes = decoder.passes()
        result[name] = _ppl([_stepped_nll(passes, d) for d in docs], docs)
    return {"data": f"{len(docs)} NarrativeQA summaries, first {PPL_TOKENS} tokens each",
            "perplexity": result}  # fmt: skip


def _stepped_nll(passes: Any, doc: list[int]) -> float:
    import torch

    logits, total = passes.read(doc[:1], []).own, 0.0
    for token in doc[1:]:
        total -= float(torch.log_softmax(logits, dim=-1)[token])
        logits = passes.step(token).own
    return total


def _ppl(nll: list[float], docs: list[list[int]]) -> float:
    import math

    return math.exp(sum(nll) / sum(len(d) - 1 for d in docs))


def report(results: dict[str, Any]) -> str:
    load = results["load"]
    first = "first (GGUF -> float32 conversion)" if load["first_load_converted"] else "first"
    loads = results.get("load_average")
    lines = [
        f"Machine: {results['machine']}"
        + (f", load average {loads[0]:.1f} at the end" if loads else "")
        + f". Model: {results['model']}. Data: {results['data']}. "
        f"Baselines: {results['baseline']}.",
        "",
        f"Load: {first} {load['first_s']:.1f} s, cached {load['cached_s']:.1f} s.",
    ]
    if "process_imports_s" in load:
        lines[-1] += (
            f" A fresh process: start + imports {load['process_imports_s']:.1f} s, then the "
            f"cached load {load['process_load_s']:.1f} s."
        )
    for row in results["decode"]:
        lines += _option_table(row)
    quality = results.get("onnx_quality")
    if quality:
        ppl = quality["perplexity"]
        lines += ["", f"Quality guard of the onnx runtimes ({quality['data']}): perplexity "
                  + ", ".join(f"{k} {v:.2f} ({v / ppl['torch'] - 1:+.1%})" for k, v in ppl.items())
                  + " (goal: within 1% of torch)."]  # fmt: skip
    return "\n".join(lines)


def _option_table(row: dict[str, Any]) -> list[str]:
    same = "same text as the plain loop" if row["lookahead_same_text"] else "TEXT DIFFERS"
    parts = row.get("onnx_same_chars") or {}
    if parts:
        same += "; the same text as the plain loop for the first " + ", ".join(
            f"{n} of {row['plain_chars']} characters ({o})" for o, n in parts.items()
        )
    lines = [
        "",
        f"Prompt {row['prompt']!r} ({row['prompt_tokens']} tokens); lookahead: {same}.",
        "",
        "| option | decode tok/s | x plain loop | x HF generate | time to first token "
        "| TTFT x plain |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in row["options"].items():
        lines.append(
            f"| {name} | {f['tokens_per_s']:.1f} | {f['x_plain']:.2f} | {f['x_hf_generate']:.2f} "
            f"| {f['ttft_s'] * 1000:.0f} ms | {f['ttft_x_plain']:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    add_out_option(parser)
    args = parser.parse_args()
    results = run(args.quick, args.tokens, args.repeats)
    text = report(results)
    write_results(args.out or default_out_dir(), NAME, TITLE, results, text)
    print(text)


if __name__ == "__main__":
    main()

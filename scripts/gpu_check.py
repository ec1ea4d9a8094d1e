"""GPU check for `--device cuda` (issue 18, part 4): run on a machine with an NVIDIA GPU.

    HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python scripts/gpu_check.py [--tokens 64]
        [--repeats 3] [--out gpu_check.json] [--skip-random]

1. The bundled default model loaded with device="cuda" (bfloat16 where supported), then each
   path once on the device: plain decoding, context-aware decoding (a contrast pair), span
   scoring (extractive answers), a LoRA adapter (peft, random weights) and a JSON grammar.
2. Speed, options alternated in one process, same prompt and token count: our loop (one token
   per pass, and with prompt lookup) against HF `generate` on the same GPU; tokens/s with the
   prefill excluded and time to first token. For the default model and for a randomly
   initialised ~1.2B-parameter Llama built from a config (SmolLM2's tokenizer; no download).

Prints a Markdown table and writes the figures as JSON. Exit code 1 when CUDA is missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--skip-random", action="store_true", help="only the default model")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: this torch sees no CUDA device; run it on a GPU machine", file=sys.stderr)
        return 1
    from mindpilot.autopilot.transformers_backend import TransformersBackend

    default = TransformersBackend.load(device="cuda")
    results: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "paths": check_paths(default),
        "speed": {"default": speed(default, args.tokens, args.repeats)},
    }
    if not args.skip_random:
        big = random_llama(default.tokenizer)
        results["speed"]["random_1b"] = speed(big, args.tokens, args.repeats)
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0


def check_paths(backend: Any) -> dict[str, str]:
    """Each feature once on the device; the first error stops the script (nothing swallowed)."""
    from mindpilot.autopilot import GenerationConfig, Message

    question = [Message("user", "Where is the Eiffel Tower? Answer in one sentence.")]
    grounded = [
        Message("system", "Facts: the Eiffel Tower stands in Rome."),
        *question,
    ]
    done = {"dtype": str(next(backend.model.parameters()).dtype), "device": str(backend.device)}
    done["plain"] = backend.generate(question, GenerationConfig(max_new_tokens=16)).text
    cad = GenerationConfig(max_new_tokens=16, faithfulness=1.0)
    done["contrast"] = backend.stream_with_hook(grounded, cad, None, question).finish().text
    scored = backend.score_candidates(question, ["in Paris", "in Rome", "on the Moon"])
    done["span_scores"] = str([round(s.prefix_logprob(len(s.token_ends)), 2)
                               for s in scored.scores if s])  # fmt: skip
    schema = json.dumps({"type": "object", "properties": {"city": {"type": "string"}}})
    done["json"] = backend.generate(question, GenerationConfig(40, json_schema=schema)).text
    done["adapter"] = with_random_adapter(backend, question)
    return done


def with_random_adapter(backend: Any, question: Any) -> str:
    """A LoRA adapter (random B, so it changes the output) saved, loaded and applied."""
    import tempfile

    import torch
    from peft import LoraConfig, get_peft_model

    from mindpilot.autopilot import GenerationConfig

    lora = get_peft_model(backend.base_copy(), LoraConfig(r=4, target_modules=["q_proj"]))
    for name, parameter in lora.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.02)
    with tempfile.TemporaryDirectory() as folder:
        lora.save_pretrained(folder)
        backend.load_adapter("check", Path(folder))
    config = GenerationConfig(max_new_tokens=16, adapter="check")
    return str(backend.generate(question, config).text)


def random_llama(tokenizer: Any) -> Any:
    """A randomly initialised ~1.2B Llama (Llama-3.2-1B's shape, SmolLM2's vocabulary) on the
    GPU in bfloat16, wrapped in our backend."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from mindpilot.autopilot.transformers_backend import TransformersBackend

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=2048, intermediate_size=8192,
        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        max_position_embeddings=4096, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    # a random model may emit its end token at once: generate and our loop run to the count
    model.generation_config.eos_token_id = None
    backend = TransformersBackend(model, tokenizer, model_name="random-llama-1.2b")
    backend._eos = set()
    return backend


def speed(backend: Any, tokens: int, repeats: int) -> dict[str, Any]:
    """Tokens/s and TTFT of each option, alternated; ratios to HF generate on the same GPU."""
    import torch

    from mindpilot.autopilot import Message
    from mindpilot.bench.model_speed import OPTIONS, PROMPT

    ids = backend.prompt_ids([Message("user", PROMPT)])
    for run in OPTIONS.values():  # warm-up: CUDA kernels, caches
        run(backend, PROMPT, ids, 4)
    runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in OPTIONS}
    for _ in range(repeats):
        for name, run in OPTIONS.items():
            torch.cuda.synchronize()
            runs[name].append(run(backend, PROMPT, ids, tokens))
    hf = statistics.median(r[0] for r in runs["hf generate"])
    return {
        "parameters": sum(p.numel() for p in backend.base.parameters()),
        "prompt_tokens": len(ids),
        "options": {
            name: {
                "tokens_per_s": statistics.median(r[0] for r in rows),
                "ttft_s": statistics.median(r[1] for r in rows),
                "x_hf_generate": statistics.median(r[0] for r in rows) / hf,
            }
            for name, rows in runs.items()
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def table(results: dict[str, Any]) -> str:
    lines = [f"GPU: {results['gpu']}, torch {results['torch']}", ""]
    lines += [f"- {k}: {v!r}" for k, v in results["paths"].items()]
    for model, s in results["speed"].items():
        lines += ["", f"{model} ({s['parameters'] / 1e6:.0f}M parameters, "
                  f"{s['prompt_tokens']}-token prompt)", "",
                  "| option | tok/s | x HF generate | TTFT |", "|---|---|---|---|"]  # fmt: skip
        for name, f in s["options"].items():
            lines.append(f"| {name} | {f['tokens_per_s']:.1f} | {f['x_hf_generate']:.2f} "
                         f"| {f['ttft_s'] * 1000:.0f} ms |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The in-process backend: a frozen Hugging Face causal LM, decoded by our own loop.

Our own loop (rather than `model.generate`) gives streaming without threads, exact stop
strings, and access to each step's logits, which self-taking uses to retrieve mid-answer.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import threading
import time
import warnings
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from mindpilot import config as mp_config
from mindpilot.autopilot import (
    lean_lora,
    loading,
    onnx_decoder,
    query_likelihood,
    span_scoring,
    steering,
)
from mindpilot.autopilot.backend import Backend
from mindpilot.autopilot.constrained import Grammars
from mindpilot.autopilot.contrast import ContrastPair, Passes, SinglePass, model_device
from mindpilot.autopilot.decoding import IncrementalDecoder, StopMatcher, choose_token
from mindpilot.autopilot.devices import resolve_device, weights_dtype
from mindpilot.autopilot.lookahead import LookaheadPass
from mindpilot.autopilot.onnx_decoder import OnnxDecoder, Precision
from mindpilot.autopilot.prompt_tokens import chat_ids, encode_text
from mindpilot.autopilot.steering import SteeringLibrary, SteeringVector
from mindpilot.errors import ConfigError, ContextWindowError, ModelLoadError, NotFoundError
from mindpilot.tone import Tone
from mindpilot.types import (
    DecodingHook,
    Generation,
    GenerationConfig,
    Message,
    Stream,
    Timings,
    TokenLogprob,
    Usage,
)


def freeze(model: torch.nn.Module) -> torch.nn.Module:
    """The Autopilot System is frozen: no gradients, eval mode. Adapters train on top."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


class TransformersBackend(Backend):
    """A frozen `transformers` causal LM in this process."""

    name = "transformers"
    consults_while_decoding = True
    supports_adapters = True
    supports_contrast = True
    supports_steering = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        model_name: str | None = None,
        threads: int | None = None,
        lookahead: bool = True,
        onnx: OnnxDecoder | None = None,
    ) -> None:
        # becomes a peft PeftModel around the base once adapters load
        self.model: Any = freeze(model)
        self.base = self.model  # the frozen base itself (adapters inject layers into it)
        self.tokenizer = tokenizer
        self.model_name = model_name or str(getattr(model, "name_or_path", "") or "model")
        self.threads = threads or mp_config.default_threads()
        self.device = model_device(model)
        # prompt-lookup decoding (lookahead.py): the same tokens, fewer forward passes
        self.lookahead = lookahead
        # the `onnx` runtime: plain requests decode through ONNX Runtime (onnx_decoder.py)
        self.onnx = onnx
        self.last_passes: Passes | None = None  # the latest decode's passes (benchmark counts)
        self.context_window = int(getattr(model.config, "max_position_embeddings", 2048))
        self.load_seconds = 0.0
        self._eos = _eos_ids(model, tokenizer)
        # left padding of a contrast pair's shorter prompt (masked out, so any id would do)
        self._pad = next(iter(sorted(self._eos)), 0)
        # torch's thread count is process-wide and a model decodes one request at a time;
        # the adapter a request asked for stays applied while it holds the lock.
        self._lock = threading.Lock()
        self._base_hash: str | None = None
        self._lora_layers: list[Any] = []  # peft's layers, once an adapter is loaded
        self._selected: str | None = None  # the adapter the layers point at (None: off)
        self._grammars = Grammars(tokenizer)  # constrained decoding (json_schema)
        self._steering: dict[str, SteeringVector] = {}  # loaded vectors by id
        self._steering_found: dict[tuple[str, str], SteeringVector] = {}  # (library, tone)

    @classmethod
    def load(
        cls,
        model: str | None = None,
        *,
        threads: int | None = None,
        device: str | None = None,
        lookahead: bool = True,
        runtime: str | None = None,
    ) -> TransformersBackend:
        """Load by name or path (None = the bundled default), offline, and freeze. `device`:
        auto (CUDA when available), cpu or cuda[:N] (None: the `device` setting); bfloat16
        on a GPU that supports it, float32 otherwise. `runtime` (None: the `runtime` setting):
        torch, or onnx / onnx-fp32, where plain requests decode through ONNX Runtime
        (`onnx_decoder`) and the rest (adapters, steering, context-aware decoding) in torch."""
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        started = time.perf_counter()
        where = resolve_device(device or mp_config.device())
        source = loading.resolve(model)
        folder = loading.loadable_folder(source)
        torch.set_num_threads(threads or mp_config.default_threads())
        hf_logging.disable_progress_bar()  # a 1 s load needs no bar; conversion keeps its own
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            # a GPU gets the weights straight from the file (no float32 copy in CPU memory)
            on_gpu = {"device_map": str(where)} if where.type != "cpu" else {}
            lm = AutoModelForCausalLM.from_pretrained(folder, dtype=weights_dtype(where), **on_gpu)
        except (OSError, ValueError) as err:
            raise ModelLoadError(
                f"cannot load model {source.name} from {folder}: {err}",
                hint="check that the folder holds a causal language model (config.json, weights)",
            ) from err
        finally:
            hf_logging.enable_progress_bar()
        onnx = _onnx_decoder(runtime or mp_config.runtime(), folder, where, threads)
        backend = cls(
            lm, tokenizer, model_name=source.name, threads=threads, lookahead=lookahead, onnx=onnx
        )
        backend.load_seconds = time.perf_counter() - started
        return backend

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of the messages through the model's chat template; their contents can
        never become control tokens (`prompt_tokens`)."""
        return chat_ids(self.tokenizer, messages)

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.prompt_ids(messages))

    def count_text(self, text: str) -> int:
        return len(encode_text(self.tokenizer, text))

    def score_continuations(
        self,
        messages: Sequence[Message],
        continuations: Sequence[str],
        *,
        adapter: str | None = None,
    ) -> list[float]:
        """Sum of log-probabilities of each continuation's tokens after the prompt. The prompt
        is run once; each continuation reuses a copy of its KV cache."""
        return self._score(self.prompt_ids(messages), continuations, adapter)

    def score_text(
        self, prefix: str, continuations: Sequence[str], *, adapter: str | None = None
    ) -> list[float]:
        return self._score(encode_text(self.tokenizer, prefix), continuations, adapter)

    def _score(
        self, ids: list[int], continuations: Sequence[str], adapter: str | None
    ) -> list[float]:
        self._check_room(ids)
        scores = []
        with self._lock, self._applied(adapter), torch.inference_mode():
            torch.set_num_threads(self.threads)
            logits, past = self._forward(ids, None)
            for text in continuations:
                tokens = encode_text(self.tokenizer, text)
                out = self.model(
                    input_ids=torch.tensor([tokens], device=self.device),
                    past_key_values=copy.deepcopy(past),
                )
                # position i predicts token i+1; the prompt's last logits predict token 0
                steps = torch.cat([logits[None, :], out.logits[0, :-1, :].float().cpu()])
                logprobs = torch.log_softmax(steps, dim=-1)
                scores.append(float(logprobs[torch.arange(len(tokens)), tokens].sum()))
        return scores

    def _logprob(self, logits: torch.Tensor, token: int, alternatives: int) -> TokenLogprob:
        """The chosen token's log-probability and the `alternatives` likeliest tokens'."""
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        top: tuple[tuple[str, float], ...] = ()
        if alternatives:
            values, ids = torch.topk(logprobs, alternatives)
            top = tuple(
                (self.tokenizer.decode([i]), float(v))
                for i, v in zip(ids.tolist(), values.tolist(), strict=True)
            )
        return TokenLogprob(self.tokenizer.decode([token]), float(logprobs[token]), top)

    def _check_room(self, ids: list[int]) -> int:
        room = self.context_window - len(ids)
        if room < 1:
            raise ContextWindowError(
                f"the prompt takes {len(ids)} tokens but {self.model_name} holds "
                f"{self.context_window} in all",
                hint="shorten the prompt or the conversation, or lower the memory token budget",
            )
        return room

    def stream(self, messages: Sequence[Message], config: GenerationConfig) -> Stream[Generation]:
        return self.stream_with_hook(messages, config, None)

    def stream_with_hook(
        self,
        messages: Sequence[Message],
        config: GenerationConfig,
        hook: DecodingHook | None,
        contrast: Sequence[Message] | None = None,
    ) -> Stream[Generation]:
        """Decode, consulting `hook` at each step; with `contrast` (the same conversation
        without the Mental Process's records) and `config.faithfulness` > 0, context-aware
        decoding: each token comes from the two readings contrasted (see `contrast.py`)."""
        ids = self.prompt_ids(messages)
        room = self._check_room(ids)
        without = None
        if contrast is not None and config.faithfulness > 0:
            without = self.prompt_ids(contrast)
            room = min(room, self._check_room(without))  # both readings hold the answer
        return Stream(self._decode(ids, config, min(config.max_new_tokens, room), hook, without))

    def _decode(
        self,
        ids: list[int],
        config: GenerationConfig,
        max_new: int,
        hook: DecodingHook | None,
        without: list[int] | None,
    ) -> Generator[str, None, Generation]:
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
        detok, stopper = IncrementalDecoder(self.tokenizer), StopMatcher(config.stop)
        emitted: list[str] = []
        answer: list[int] = []  # the answer's token ids, kept to re-read them after a hook
        logprobs: list[TokenLogprob] = []
        grammar = None
        if config.json_schema is not None or config.grammar is not None:
            grammar = self._grammars.constraint(config.json_schema, config.grammar)
        finish, first_piece_at = "length", 0.0
        with (
            self._lock,
            self._applied(config.adapter),
            self._steered(config, start=len(ids) - 1),
            torch.inference_mode(),
        ):
            torch.set_num_threads(self.threads)
            passes = self.last_passes = self._passes(without, config)
            logits = passes.read(ids, [])
            prompt_done = time.perf_counter()
            for step in range(max_new):
                if hook is not None:
                    confidence = float(torch.softmax(logits.own.float(), dim=-1).max())
                    messages = hook.consult("".join(emitted), confidence)
                    new_ids = self.prompt_ids(messages) if messages else None
                    # the new prompt must leave room for the whole answer, as the first did
                    if new_ids is not None and len(new_ids) + max_new <= self.context_window:
                        ids = new_ids
                        logits = passes.read(ids, answer)  # a contrast keeps its own prompt
                        hook.accepted()
                scores = grammar.apply(logits.decode) if grammar else logits.decode
                token = choose_token(scores, config, generator, answer)
                if token in self._eos:
                    finish = "stop"
                    break
                if grammar is not None:
                    grammar.accept(token)
                if config.logprobs is not None:
                    logprobs.append(self._logprob(logits.decode, token, config.logprobs))
                answer.append(token)
                piece, hit_stop = stopper.push(detok.push(token))
                if piece:
                    first_piece_at = first_piece_at or time.perf_counter()
                    emitted.append(piece)
                    yield piece
                if hit_stop or (grammar is not None and grammar.finished):
                    finish = "stop"
                    break
                if step + 1 < max_new:  # the last step needs no further forward pass
                    logits = passes.step(token)
            # text held back as a possible stop-string start, that turned out not to be one
            tail = stopper.flush()
            if tail:
                emitted.append(tail)
                yield tail
        ended = time.perf_counter()
        return Generation(
            text="".join(emitted),
            logprobs=tuple(logprobs),
            finish_reason="stop" if finish == "stop" else "length",
            usage=Usage(prompt_tokens=len(ids), completion_tokens=len(answer)),
            timings=Timings(
                prompt_s=prompt_done - started,
                decode_s=ended - prompt_done,
                first_token_s=(first_piece_at or ended) - started,
            ),
            model=self.model_name,
            backend=self.name,
        )

    def _passes(self, without: list[int] | None, config: GenerationConfig) -> Passes:
        """The forward passes of one decode, on the model as it is now (under the lock: an
        adapter loaded meanwhile wraps the base in a new object). The onnx runtime takes the
        plain requests: no contrast, no adapter, no steering (those need torch's model)."""
        steered = config.steering is not None and config.steering_strength != 0
        if self.onnx is not None and without is None and config.adapter is None and not steered:
            return self.onnx.passes()
        if without is None and self.lookahead:
            return LookaheadPass(self.model, limit=self.context_window)
        if without is None:
            return SinglePass(self.model)
        return ContrastPair(self.model, without, config.faithfulness, pad_id=self._pad)

    # ---- tone steering (steering.py) ---------------------------------------------------------
    def steering_vector(self, tone: Tone, library: SteeringLibrary) -> SteeringVector:
        """The tone's vector for this base, loaded for decoding: from `library`, else
        computed once on the bare base and saved there."""
        base_hash = self.base_weights_hash()
        key = (str(library.root), tone.name)
        vector = self._steering_found.get(key)
        if vector is None:
            vector = library.find(base_hash, tone.name)
        if vector is None:
            with self._lock, self._applied(None):
                torch.set_num_threads(self.threads)
                vector = steering.compute(
                    self.base, self.tokenizer, tone, base_hash=base_hash, name=self.model_name
                )
            library.save(vector)
        self._steering[vector.id] = self._steering_found[key] = vector
        return vector

    def _steered(
        self, config: GenerationConfig, start: int
    ) -> contextlib.AbstractContextManager[None]:
        """Steering from position `start` (the prompt's last: it predicts the first token)."""
        if config.steering is None or config.steering_strength == 0:
            return contextlib.nullcontext()  # no hook: other requests pay nothing
        vector = self._steering.get(config.steering)
        if vector is None:
            raise NotFoundError(
                f"no steering vector {config.steering!r} is loaded in this model",
                hint="the engine loads a task's vector from its emotional state",
            )
        return steering.steered(self.base, vector, config.steering_strength, start)

    # ---- task adapters (peft LoRA on the one shared, frozen base) --------------------------
    def load_adapter(self, name: str, folder: Path) -> None:
        """Load a saved peft adapter under `name` (once; later calls do nothing). The base's
        own weights are untouched: LoRA adds low-rank layers beside them."""
        from peft import PeftModel

        with self._lock, peft_quietly():
            if name in self.adapter_names():
                return
            try:
                if isinstance(self.model, PeftModel):
                    self.model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
                else:
                    self.model = PeftModel.from_pretrained(
                        self.base, str(folder), adapter_name=name, is_trainable=False
                    )
            except (OSError, ValueError, KeyError, RuntimeError) as err:
                raise ModelLoadError(
                    f"cannot load the adapter in {folder}: {err}",
                    hint="the folder is damaged or not a LoRA adapter of this model; "
                    "delete it (`mindpilot adapters delete ID`) and train again",
                ) from err
            freeze(self.model)
            from peft.tuners.tuners_utils import BaseTunerLayer

            lean_lora.release(self._lora_layers)  # the layers changed: lean forwards anew

            self._lora_layers = [m for m in self.model.modules() if isinstance(m, BaseTunerLayer)]
            self._selected = "\0"  # peft just activated the new adapter: select anew next time

    def base_copy(self) -> torch.nn.Module:
        """A copy of the bare base, without the adapters this backend serves (to train a new
        one on, leaving the served model alone). The modules are copied, the frozen weight
        tensors are shared: nothing writes them (the base stays frozen), and a full copy cost
        ~550 MB of peak memory while training the default model."""
        from peft import PeftModel

        with self._lock:
            tensors = [*self.model.parameters(), *self.model.buffers()]
            lean_lora.release(self._lora_layers)  # a copy must not call into these layers
            self._selected = "\0"
            clone = copy.deepcopy(self.model, memo={id(t): t for t in tensors})
        if isinstance(clone, PeftModel):
            clone = clone.unload()  # removes every LoRA layer, leaving the base weights
        return clone

    def adapter_names(self) -> list[str]:
        config = getattr(self.model, "peft_config", None)
        return sorted(config) if config else []

    def base_weights_hash(self) -> str:
        """SHA-256 over every base weight (names and bytes), LoRA layers left out; computed
        once (about a second for the default model)."""
        if self._base_hash is None:
            with self._lock:
                self._base_hash = base_weights_hash(self.base)
        return self._base_hash

    @contextlib.contextmanager
    def _applied(self, adapter: str | None) -> Iterator[None]:
        """Apply `adapter` (or none: the bare base) for the forward passes inside; it stays
        selected afterwards, so the next request for the same one switches nothing."""
        if adapter is not None and adapter not in self.adapter_names():
            raise NotFoundError(
                f"no adapter {adapter!r} is loaded in this model",
                hint="load it first (the engine does this for a task's active adapter)",
            )
        self._select(adapter)
        yield

    def _select(self, adapter: str | None) -> None:
        """Point every LoRA layer at `adapter` (None: layers off). peft's own set_adapter and
        disable_adapter walk every parameter to set requires_grad (~45 ms and ~290 ms per
        request on the default model); `lean_lora` flips the layers' two flags peft reads
        (peft 0.21 BaseTunerLayer: `_active_adapter`, `_disable_adapters`) and gives each
        layer a plain forward for that adapter (peft's own cost decoding 12% of its speed)."""
        if adapter == self._selected:
            return
        lean_lora.select(self._lora_layers, adapter)
        self._selected = adapter

    def _forward(self, ids: list[int], past: Any) -> tuple[torch.Tensor, Any]:
        """One forward pass; returns the last position's logits (vocab,), float32 on the CPU,
        and the KV cache."""
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device),
            past_key_values=past,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[0, -1, :].float().cpu(), out.past_key_values

    # ---- candidate answers (extractive answers; span_scoring.py) ---------------------------
    def score_candidates(
        self,
        messages: Sequence[Message],
        candidates: Sequence[str],
        *,
        adapter: str | None = None,
        keep: int | None = None,
        always: Sequence[int] = (),
    ) -> span_scoring.ScoredCandidates:
        """Each candidate's token and end log-probabilities as the assistant's answer: the
        prompt runs once, the `keep` likeliest candidates (by first token) and `always` in one
        batch."""
        return span_scoring.score_candidates(
            self, messages, candidates, adapter=adapter, keep=keep, always=always
        )

    def score_after_prefixes(
        self, prefixes: Sequence[str], continuation: str, *, prefix_tokens: int
    ) -> list[float]:
        """log P(continuation | prefix) for each prefix, in batches (`query_likelihood`)."""
        scored = query_likelihood.score_after_prefixes(
            self, prefixes, continuation, prefix_tokens=prefix_tokens
        )
        return list(scored.logprobs)


@contextlib.contextmanager
def peft_quietly() -> Iterator[None]:
    """peft 0.21 reads a transformers property deprecated in v5; its warning is not ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        yield


def base_weights_hash(model: torch.nn.Module) -> str:
    """SHA-256 of a model's own weights, by name, whether or not peft wrapped LoRA layers
    around them (their `base_layer` is the original weight; `lora_*` are left out)."""
    digest = hashlib.sha256()
    state = model.state_dict()
    for name in sorted(state):
        if "lora_" in name:
            continue
        plain = name.removeprefix("base_model.model.").replace(".base_layer.", ".")
        tensor = state[name].detach().cpu().contiguous()
        digest.update(plain.encode())
        digest.update(tensor.view(torch.uint8).numpy())
    return digest.hexdigest()


def _onnx_decoder(
    runtime: str, folder: Path, where: torch.device, threads: int | None
) -> OnnxDecoder | None:
    """The ONNX Runtime decoder the `runtime` asks for (None: torch alone)."""
    if runtime == "torch":
        return None
    if where.type != "cpu":
        raise ConfigError(
            f"the {runtime} runtime decodes on the CPU, but the model is on {where}",
            hint="set runtime to torch on a GPU (MINDPILOT_RUNTIME=torch), or --device cpu",
        )
    precision: Precision = "fp32" if runtime == "onnx-fp32" else "int8"
    return onnx_decoder.load(folder, precision, threads or mp_config.default_threads())


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        ids.update(value if isinstance(value, list) else [value] if value is not None else [])
    return ids

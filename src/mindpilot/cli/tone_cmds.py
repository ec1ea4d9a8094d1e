"""`mindpilot tone list | build | score`: the measured tones, their steering vectors, and the
scorer that says whether a text carries a tone."""

from __future__ import annotations

from typing import Any

import click

from mindpilot.cli.model_cmds import model_options, open_engine
from mindpilot.cli.output import emit_json, table, when
from mindpilot.types import ToneUse


def tone_text(use: ToneUse) -> str:
    """'empathy (intensity 0.8, steering sv_... x1.60), scored 0.67: carried'."""
    how = f"steering {use.vector} x{use.strength:.2f}" if use.control == "steering" else "prompt"
    line = f"{use.tone} (intensity {use.intensity:g}, {how})"
    if use.score is not None:
        line += f", scored {use.score:.2f}: {'carried' if use.carried else 'not carried'}"
    return line + (f"; {use.note}" if use.note else "")


@click.group("tone")
def tone() -> None:
    """Tones: what the emotional state of a task can be measured and steered as."""


@tone.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """The measured tones (with their aliases) and the steering vectors computed so far, for
    every base model (MINDPILOT_HOME/steering)."""
    from mindpilot.autopilot.steering import SteeringLibrary
    from mindpilot.tone import TONES

    vectors = [v.describe() for v in SteeringLibrary().list()]
    if as_json:
        tones = {t.name: {"dimension": t.dimension, "aliases": t.aliases} for t in TONES.values()}
        emit_json({"tones": tones, "vectors": vectors})
        return
    rows: list[Any] = [
        (t.name, ", ".join(a for a in t.aliases if a != t.name)) for t in TONES.values()
    ]
    table("measured tones", ("tone", "aliases"), rows)
    rows = [
        (v["id"], v["tone"], f"v{v['version']}", v["layer"], v["model"], v["base_hash"][:12],
         when(v["created_at"]))
        for v in vectors
    ]  # fmt: skip
    table(
        f"{len(rows)} steering vector(s)",
        ("id", "tone", "recipe", "layer", "base model", "weights", "computed"),
        rows,
    )


@tone.command("build")
@click.argument("name", metavar="TONE")
@model_options
def build_cmd(name: str, **load: Any) -> None:
    """Compute TONE's steering vector for the model (once; later answers reuse it)."""
    from mindpilot.tone import require_tone

    tone_ = require_tone(name)
    with open_engine(load, memory=False, audit=False) as engine:
        backend = engine.autopilot.backend
        vector = backend.steering_vector(tone_, engine.steering_library)
    click.echo(
        f"{vector.id}  {vector.tone} v{vector.version}, layer {vector.layer}, {vector.model}"
    )


@tone.command("score")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def score_cmd(text: str, as_json: bool) -> None:
    """Score TEXT's tone: sentiment (VADER, -1..1), empathy, enthusiasm, formality, calm
    (0..1; formality and calm 0.5 = neutral), and the tones it carries."""
    from mindpilot.tone import TONES
    from mindpilot.tone.score import score

    scores = score(text)
    carried = [t.name for t in TONES.values() if scores.carries(t)]
    if as_json:
        emit_json({**scores.to_dict(), "carries": carried})
        return
    for field, value in scores.to_dict().items():
        click.echo(f"{field:<11} {value:+.2f}")
    click.echo(f"carries: {', '.join(carried) or 'none'}")


COMMANDS: list[click.Command] = [tone]

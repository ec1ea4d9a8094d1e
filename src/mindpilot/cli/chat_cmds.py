"""`mindpilot chat`: a terminal chatbot on the engine, its conversation kept as a session."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mindpilot import config
from mindpilot.cli.model_cmds import model_options, open_engine, response_dict
from mindpilot.cli.options import namespace_option, store_option
from mindpilot.cli.output import used_lines
from mindpilot.errors import MindpilotError, ValidationError
from mindpilot.types import GenerationConfig, Response

if TYPE_CHECKING:  # the chat application imports the engine (torch): loaded when a chat starts
    from mindpilot.applications.chat import Chat, ChatSession, Sessions
    from mindpilot.monitor.audit import AuditLog

HELP = "commands: /good [note], /bad [note], /sources, /new, /quit (or end of input)"


class Conversation:
    """The read-answer loop: plain lines are questions, lines starting with / are commands.

    `as_json`: JSON Lines on stdout instead of a dialogue, one object per event (the session,
    each answer with its provenance, feedback, sources); messages go to stderr."""

    def __init__(
        self, chat: Chat, audit: AuditLog, session: ChatSession, gen: GenerationConfig,
        as_json: bool = False,
    ) -> None:  # fmt: skip
        self.chat, self.audit, self.session, self.gen = chat, audit, session, gen
        self.as_json = as_json
        self.last: Response | None = None

    def _emit(self, event: dict[str, Any]) -> None:
        click.echo(json.dumps(event, ensure_ascii=False))

    def run(self) -> None:
        self._announce()
        click.echo(HELP, err=self.as_json)
        while True:
            if not self.as_json:
                click.echo("you> ", nl=False)
            line = sys.stdin.readline()
            if not line:  # end of input
                if not self.as_json:
                    click.echo()
                return
            text = line.strip()
            if not text:
                continue
            try:
                if text.startswith("/"):
                    if not self.command(text):
                        return
                else:
                    self.answer(text)
            except MindpilotError as err:  # one bad turn does not end the conversation
                if config.debug():
                    raise
                click.secho(f"Error: {err.message}", fg="red", err=True)
                if err.hint:
                    click.echo(f"  fix: {err.hint}", err=True)

    def answer(self, text: str) -> None:
        stream = self.chat.stream(
            self.session.id, text, namespace=self.session.namespace, config=self.gen
        )
        if self.as_json:
            for _ in stream:
                pass
            self.last = stream.finish()
            self._emit({"session": self.session.id, **response_dict(self.last)})
            return
        click.echo("bot> ", nl=False)
        for piece in stream:
            click.echo(piece, nl=False)
        click.echo()
        self.last = stream.finish()

    def command(self, text: str) -> bool:
        """Run a /command; False ends the conversation."""
        name, _, argument = text.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        if name in ("/good", "/bad"):
            self._feedback(name == "/good", argument.strip())
        elif name == "/sources":
            self._sources()
        elif name == "/new":
            self.session = self.chat.sessions.create(self.session.namespace, self.session.task)
            self.last = None
            self._announce()
        else:
            click.echo(f"unknown command {name}; {HELP}", err=self.as_json)
        return True

    def _announce(self) -> None:
        session = self.session
        if self.as_json:
            self._emit({"session": session.id, "task": session.task,
                        "namespace": session.namespace})  # fmt: skip
            return
        task = f"task {session.task}" if session.task else "no task"
        click.echo(f"session {session.id} ({task}, namespace {session.namespace})")

    def _feedback(self, good: bool, note: str) -> None:
        if self.last is None or self.last.audit_id is None:
            raise ValidationError("there is no answer to rate yet", hint="ask something first")
        experience = self.audit.feedback(
            self.session.namespace, self.last.audit_id, good, note, actor="chat"
        )
        if self.as_json:
            self._emit({"feedback": "good" if good else "bad", "experience": experience.id})
            return
        click.echo(f"thanks: saved as experience {experience.id}")

    def _sources(self) -> None:
        if self.last is None:
            raise ValidationError("there is no answer yet", hint="ask something first")
        if self.as_json:
            self._emit({"sources": [dataclasses.asdict(u) for u in self.last.used]})
            return
        lines = used_lines(self.audit.store, self.session.namespace, self.last.used)
        for line in lines or ["no Mental Process records were used"]:
            click.echo(line)


def _resumed(
    sessions: Sessions, namespace: str, session_id: str | None, task: str | None
) -> ChatSession | None:
    """The session to continue, checked before the (slow) model load; None: start one."""
    if session_id is None:
        return None
    found = sessions.get(namespace, session_id)
    if task is not None and task != found.task:
        raise ValidationError(
            f"session {session_id} is a chat for task {found.task!r}, not {task!r}",
            hint="leave out --task to continue it, or start a new session",
        )
    return found


@click.command("chat")
@click.option("--task", default=None, help="Task whose Mental Process conditions the answers.")
@click.option("--session", "session_id", default=None, help="Continue this session.")
@namespace_option()
@store_option
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--temperature", "-t", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--json", "as_json", is_flag=True,
    help="JSON Lines for scripts: one object per event (session, answer, feedback, sources).",
)  # fmt: skip
@model_options
def chat(
    task: str | None,
    session_id: str | None,
    namespace: str,
    store_path: Path | None,
    max_tokens: int,
    temperature: float,
    as_json: bool,
    **load: Any,
) -> None:
    """Chat in the terminal; the conversation is saved as a session (its id is printed first).

    Reads lines from standard input (piped input works too). Commands: /good [note] and
    /bad [note] rate the last answer (it becomes an experience of the task), /sources shows
    the records it used, /new starts a new session, /quit ends."""
    from mindpilot.applications.chat import Chat, Sessions

    gen = GenerationConfig(max_new_tokens=max_tokens, temperature=temperature)
    with (
        open_engine(load, store=store_path, lazy=True) as engine,
        Sessions(engine.store) as sessions,
    ):
        session = _resumed(sessions, namespace, session_id, task)
        session = session or sessions.create(namespace, task)
        Conversation(Chat(engine, sessions), engine.audit, session, gen, as_json).run()


COMMANDS: list[click.Command] = [chat]

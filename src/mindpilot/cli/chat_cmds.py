"""`mindpilot chat`: a terminal chatbot on the engine, its conversation kept as a session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mindpilot import config
from mindpilot.cli.memory_cmds import used_lines
from mindpilot.cli.model_cmds import model_options, open_engine
from mindpilot.cli.options import namespace_option, store_option
from mindpilot.errors import MindpilotError, ValidationError
from mindpilot.types import GenerationConfig, Response

if TYPE_CHECKING:  # the chat application imports the engine (torch): loaded when a chat starts
    from mindpilot.applications.chat import Chat, ChatSession, Sessions
    from mindpilot.monitor.audit import AuditLog

HELP = "commands: /good [note], /bad [note], /sources, /new, /quit (or end of input)"


class Conversation:
    """The read-answer loop: plain lines are questions, lines starting with / are commands."""

    def __init__(self, chat: Chat, audit: AuditLog, session: ChatSession, gen: GenerationConfig):
        self.chat, self.audit, self.session, self.gen = chat, audit, session, gen
        self.last: Response | None = None

    def run(self) -> None:
        self._announce()
        click.echo(HELP)
        while True:
            click.echo("you> ", nl=False)
            line = sys.stdin.readline()
            if not line:  # end of input
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
        click.echo("bot> ", nl=False)
        stream = self.chat.stream(
            self.session.id, text, namespace=self.session.namespace, config=self.gen
        )
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
            click.echo(f"unknown command {name}; {HELP}")
        return True

    def _announce(self) -> None:
        task = f"task {self.session.task}" if self.session.task else "no task"
        click.echo(f"session {self.session.id} ({task}, namespace {self.session.namespace})")

    def _feedback(self, good: bool, note: str) -> None:
        if self.last is None or self.last.audit_id is None:
            raise ValidationError("there is no answer to rate yet", hint="ask something first")
        experience = self.audit.feedback(
            self.session.namespace, self.last.audit_id, good, note, actor="chat"
        )
        click.echo(f"thanks: saved as experience {experience.id}")

    def _sources(self) -> None:
        if self.last is None:
            raise ValidationError("there is no answer yet", hint="ask something first")
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
@model_options
def chat(
    task: str | None,
    session_id: str | None,
    namespace: str,
    store_path: Path | None,
    max_tokens: int,
    temperature: float,
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
        Conversation(Chat(engine, sessions), engine.audit, session, gen).run()


COMMANDS: list[click.Command] = [chat]

"""The error family. Shells (CLI, HTTP) turn these into messages and statuses at the edge.

Every error names what was wrong and how to fix it: `MindpilotError(message, hint=...)`.
Subclasses also inherit the builtin they replace, so `except ValueError` still works.
"""

from __future__ import annotations


class MindpilotError(Exception):
    """Root of every error mindpilot raises on purpose."""

    # HTTP status the server maps this error to; the CLI exits with 1 for all of them.
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


class ConfigError(MindpilotError, ValueError):
    """A setting or argument has a value that cannot work."""

    http_status = 400


class ValidationError(MindpilotError, ValueError):
    """Input data (a record, a request, a file) does not validate."""

    http_status = 422


class NotFoundError(MindpilotError, LookupError):
    """A named thing (record, task, namespace, session) does not exist."""

    http_status = 404


class ConflictError(MindpilotError):
    """The change conflicts with the current state (e.g. a name already taken)."""

    http_status = 409


class ModelNotFoundError(NotFoundError):
    """No model under that name or path, locally or in the offline Hugging Face cache."""


class ModelLoadError(MindpilotError):
    """A model file exists but cannot be loaded (corrupt, unsupported format)."""


class ContextWindowError(MindpilotError, ValueError):
    """The prompt does not fit the model's context window."""

    http_status = 400


class BackendError(MindpilotError):
    """A model backend failed (e.g. a remote OpenAI-compatible server answered an error)."""

    http_status = 502


class PayloadTooLargeError(ValidationError):
    """A record or request is larger than the configured limit."""

    http_status = 413


class StoreDamagedError(MindpilotError):
    """A store or key file that SQLite cannot read: damaged, or not a database at all."""

    http_status = 503


class StoreUnavailableError(MindpilotError):
    """A database server the store needs cannot be reached, or the connection broke during a
    request; the request's transaction was rolled back, so retrying it is safe."""

    http_status = 503

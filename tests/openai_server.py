"""A minimal OpenAI-compatible chat-completions server on loopback, for backend tests.

It serves a real in-process backend (the tiny model), so the `openai` backend is tested end to
end over HTTP. mindpilot's own server (`mindpilot serve`) replaces it in a later issue.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mindpilot.autopilot import Autopilot, GenerationConfig, Message


def serve(autopilot: Autopilot) -> ThreadingHTTPServer:
    """Start serving on a free loopback port in a daemon thread; call .shutdown() to stop."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                return self._json(404, {"error": {"message": "no such route"}})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if body["model"] != autopilot.model_name:
                return self._json(404, {"error": {"message": f"model {body['model']} not found"}})
            messages = [Message(m["role"], m["content"]) for m in body["messages"]]
            config = GenerationConfig(
                max_new_tokens=body.get("max_tokens", 16),
                temperature=body.get("temperature", 0.0),
                top_p=body.get("top_p", 1.0),
                stop=tuple(body.get("stop") or ()),
                seed=body.get("seed"),
            )
            stream = autopilot.stream(messages, config)
            if body.get("stream"):
                return self._sse(stream)
            result = stream.finish()
            return self._json(
                200, _completion(result, {"message": {"role": "assistant", "content": result.text}})
            )

        def _sse(self, stream: Any) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in stream:
                self._event(_chunk({"delta": {"content": piece}, "finish_reason": None}))
            result = stream.finish()
            self._event(_chunk({"delta": {}, "finish_reason": result.finish_reason}))
            self._event(_chunk(None, usage=_usage(result)))
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def _usage(result: Any) -> dict[str, int]:
        return {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.total_tokens,
        }

    def _chunk(
        choice: dict[str, Any] | None, usage: dict[str, int] | None = None
    ) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": autopilot.model_name,
            "choices": [] if choice is None else [{"index": 0, **choice}],
            "usage": usage,
        }

    def _completion(result: Any, choice: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": autopilot.model_name,
            "choices": [{"index": 0, "finish_reason": result.finish_reason, **choice}],
            "usage": _usage(result),
        }

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

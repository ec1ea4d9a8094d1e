"""`mindpilot serve`: the HTTP shell over the engine (OpenAI-compatible API + Mental Process REST).

app.py builds the FastAPI app; deps.py holds the per-app state and the request dependencies
(who is calling, which namespace); each route family has its own module.
"""

from mindpilot.server.app import create_app

__all__ = ["create_app"]

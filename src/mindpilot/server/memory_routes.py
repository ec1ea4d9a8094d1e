"""REST for the Mental Process (being built): records, tasks, history/undo, export/import."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""Watching the system: the audit log of every generation (later: bias probes, reports)."""

from mindpilot.monitor.audit import AuditEntry, AuditLog

__all__ = ["AuditEntry", "AuditLog"]

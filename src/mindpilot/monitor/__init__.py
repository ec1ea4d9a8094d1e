"""Watching the system: the audit log of every generation, bias probes of the model per task,
an audit of the Mental Process's records, and reports over stored runs (`mindpilot monitor`)."""

from mindpilot.monitor.audit import AuditEntry, AuditLog

__all__ = ["AuditEntry", "AuditLog"]

"""The audit log: every change to an audited table, with its actor, recorded in the database and hash-chained.

Mark a model with :class:`~schemakit.mixins.AuditTrailMixin`. What is recorded and how:
:mod:`~schemakit.audit_log.tables`, :mod:`~schemakit.audit_log.ddl`, :mod:`~schemakit.audit_log.capture`;
checking the chain: :mod:`~schemakit.audit_log.verify`.
"""

"""Which hosts a PostgreSQL connection really goes to, by libpq's rules.

The seed guard and the check that throwaway databases are made only on this machine (or allowed hosts) both
judge a URL by these hosts.

The URL's host is not the whole story: a ``host`` (or ``hostaddr``) query parameter overrides it, and a URL
without a host falls back to the ``PGHOST``/``PGHOSTADDR`` variables, then to the local socket. Each of these
may list several hosts, separated by commas; a value starting with ``/`` is a socket folder on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from sqlalchemy import URL

from schemakit.settings import LOCAL_HOSTS

__all__ = ["connection_hosts", "remote_hosts"]


def _split(value: str | Sequence[str]) -> list[str]:
    parts = [value] if isinstance(value, str) else list(value)
    return [host.strip() for part in parts for host in part.split(",")]


def connection_hosts(url: URL, environ: Mapping[str, str] | None = None) -> list[str]:
    """The hosts a PostgreSQL driver connects to for ``url``; ``""`` stands for the local socket.

    Args:
        url: The database URL.
        environ: The environment to read ``PG*`` variables from (the process's by default).
    """
    environ = os.environ if environ is None else environ
    query = url.query
    for key in ("hostaddr", "host"):
        if query.get(key):
            return _split(query[key])
    if url.host:
        return _split(url.host)
    for variable in ("PGHOSTADDR", "PGHOST"):
        if environ.get(variable):
            return _split(environ[variable])
    service = query.get("service") or environ.get("PGSERVICE")
    if service:
        # The host is in a service file schemakit does not read: it cannot tell, so it counts as remote.
        return [f"the host of libpq service {service!r}"]
    return [""]


def remote_hosts(url: URL, environ: Mapping[str, str] | None = None) -> list[str]:
    """Those of :func:`connection_hosts` that are not this machine (loopback ``127.0.0.1``, ``::1``, sockets)."""
    return [host for host in connection_hosts(url, environ) if not _local(host)]


def _local(host: str) -> bool:
    return host in LOCAL_HOSTS or host.startswith("/")

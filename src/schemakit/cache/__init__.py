"""Redis beside the database: keys by one pattern, a read-through cache of model instances, a health check.

``pip install 'schemakit[cache]'`` brings redis-py.
"""

from schemakit.cache.check import RedisReport, check_redis
from schemakit.cache.client import cache_client
from schemakit.cache.keys import CACHE_TTL, SESSION_TTL, KeyKind, KeyRegistry
from schemakit.cache.models import ModelCache

__all__ = [
    "CACHE_TTL",
    "SESSION_TTL",
    "KeyKind",
    "KeyRegistry",
    "ModelCache",
    "RedisReport",
    "cache_client",
    "check_redis",
]

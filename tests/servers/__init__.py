"""Test infrastructure: a Redis Cluster, a Sentinel set and a fault-injecting TCP proxy,
all real processes or sockets on loopback ports. Independent of aqueue on purpose.

- ``cluster.RedisCluster``: 3 primaries + 3 replicas; ``failover``, ``kill``/``restart``,
  ``migrate_slot`` or ``begin_migration``/``finish_migration`` (a live reshard),
  ``names_on_distinct_primaries``, ``port_for_slot``; ``slots.key_slot`` for any key.
- ``sentinel.RedisSentinelSet``: primary, replica, 3 sentinels; ``sentinel_url``,
  ``failover``, ``kill_primary``, ``restart``, ``set_min_replicas_to_write``.
- ``proxy.FaultyProxy``: ``drop(before=p, after=q)``, ``blackhole``, ``close_all``.
- ``fixtures``: ``redis_cluster``/``redis_sentinel`` (session), ``fresh_redis_cluster``/
  ``fresh_redis_sentinel`` (healed and flushed per test), ``faulty_proxy`` (a factory).
"""

"""Test infrastructure: a Redis Cluster, a Sentinel set and a fault-injecting TCP proxy,
all real processes or sockets on loopback ports. Independent of aqueue on purpose."""

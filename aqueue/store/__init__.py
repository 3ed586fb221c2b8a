"""Everything that talks to Redis: the key layout, connections, and the Lua scripts."""

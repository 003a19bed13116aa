"""Virtual keys: per-key identity, model access, rate limits, budgets and usage.

`model` (the key record, validation, secrets and their hashes), `registry` / `redis_registry`
(where records live: in process with an optional YAML file, or Redis), `limiter` /
`redis_limiter` (check-and-reserve and settle, in process or one Lua script per call in Redis),
`prices` (the optional USD price table) and `cli` (`python -m bedrock_gateway.keys`). Nothing
here knows HTTP; the server wires it in (server/key_access.py, server/routes/admin_routes.py).
"""

"""Client protocols: each package here is one API that clients speak (request parsing and
validation, response and streaming event shapes, translation to and from Bedrock Converse).

Every protocol is pure (no HTTP server, no AWS SDK); the server layer gives each one thin routes
over the same Bedrock core (router with failover, admission, streaming pump, telemetry).
"""

"""Client protocols: each sub-package is one API the gateway serves (its request parsing and
validation, response and stream shapes, and translation to and from Bedrock), pure — no HTTP
server, no AWS SDK. The thin routes in `bedrock_gateway.server.routes` wire a protocol to the
shared Bedrock core (router, failover, admission, streaming pump, telemetry)."""

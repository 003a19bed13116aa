"""`python -m bench`: the gateway's benchmark against the bundled Bedrock emulator.

The emulator and the gateway(s) run as subprocesses on loopback; this process is the load
generator. Every figure is measured side by side with a "floor": the same Bedrock call made
directly with aiobotocore, so the overhead column is what the gateway adds.
"""

"""Stores the server keeps state in (I/O at the rim): stored Responses API responses, in process
or in Redis. Nothing here knows HTTP or Bedrock."""

"""OpenAI-compatible gateway to Amazon Bedrock."""

__version__ = "0.1.0"

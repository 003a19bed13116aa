"""The settings table: every variable, its default and meaning, as the README shows it.

One source for `--help` (generated from it) and the README's settings table (a test checks that
the two are the same rows). Text only: no parsing or validation here (that is settings.py).
"""

from __future__ import annotations

# (variable, default as shown, meaning); markdown, in the README's order.
SETTINGS_TABLE: tuple[tuple[str, str, str], ...] = (
    ('API_KEY', '–',
     'API key(s) clients send as `Authorization: Bearer` or `x-api-key`; comma-separated (or a YAML list in the config file) for rotation overlap; every key is at least 16 characters of printable ASCII without spaces or commas, or the gateway refuses to start'),
    ('OPENAI_API_KEY', '–',
     'same as `API_KEY` (accepted for compatibility)'),
    ('API_KEY_FILE', '–',
     'file holding the key(s) (a mounted Secret); re-read when it changes, no restart'),
    ('API_KEY_SECRET_ARN', '–',
     'Secrets Manager secret whose JSON field `api_key` (a string) or `api_keys` (a list of strings) holds the key(s); refreshed periodically; a value of any other shape is a failed refresh that keeps the last good keys'),
    ('API_KEY_PARAM_NAME', '–',
     'SSM parameter holding the key(s) (SecureString supported)'),
    ('API_KEY_REFRESH_SECONDS', '`60`',
     'how often Secrets Manager / SSM keys are re-read'),
    ('GATEWAY_CONFIG_FILE', '–',
     'optional YAML file with any of these settings'),
    ('HOST', '`0.0.0.0`',
     'listen address (`--host`)'),
    ('PORT', '`8000`',
     'API port (`--port`)'),
    ('METRICS_PORT', '`9464`',
     'Prometheus `/metrics` port, separate from the API; `0` turns it off (`--metrics-port`)'),
    ('API_ROUTE_PREFIX', '`/api/v1`',
     'path prefix of the OpenAI routes (they are also served under `/v1`)'),
    ('BEDROCK_ROUTE_PREFIX', '`/bedrock`',
     "path prefix of Bedrock's own InvokeModel API (`/model/{modelId}/invoke`, `/invoke-with-response-stream`) for Claude Code's Bedrock mode"),
    ('AWS_REGION', '`us-east-1`',
     'primary Bedrock region'),
    ('BEDROCK_REGIONS', '`AWS_REGION`',
     ('comma list of regions, primary first; each has its own clients, pool and admission, and '
      'a breaker per model')),
    ('DEFAULT_MODEL', '`anthropic.claude-3-haiku-20240307-v1:0`',
     'chat model when a request names none'),
    ('DEFAULT_MAX_TOKENS', '–',
     "`max_tokens` sent to Bedrock when a chat request sets neither `max_tokens` nor `max_completion_tokens` (unset: the model's own default)"),
    ('DEFAULT_EMBEDDING_MODEL', '`cohere.embed-multilingual-v3`',
     'embedding model when a request names none'),
    ('BEDROCK_CONNECT_TIMEOUT_SECONDS', '`10`',
     'TCP/TLS connect timeout to Bedrock'),
    ('BEDROCK_READ_TIMEOUT_SECONDS', '`300`',
     'longest silence between two reads from Bedrock (not a total deadline)'),
    ('BEDROCK_MAX_ATTEMPTS', '`2`',
     'tries per request, the first included: SDK retries with one region; with several, rounds over the regions (each region called once per round, failover first)'),
    ('REQUEST_TIMEOUT_SECONDS', '`600`',
     'deadline shared by SDK retries and failover for one request'),
    ('ENABLE_CROSS_REGION_INFERENCE', '`true`',
     'list and use system-defined cross-region inference profiles (`us.`, `eu.`, `apac.`, `global.`)'),
    ('ENABLE_APPLICATION_INFERENCE_PROFILES', '`true`',
     'list and use application inference profiles (ARNs)'),
    ('MODEL_REFRESH_SECONDS', '`300`',
     'background refresh interval of the model catalog'),
    ('MODEL_ALIASES_FILE', '–',
     'YAML/JSON mapping of alias → Bedrock model id (e.g. `gpt-4o-mini: anthropic.claude-3-haiku-20240307-v1:0`)'),
    ('MAX_CONCURRENT_REQUESTS', '`512`',
     'requests (streams) one process serves at once; beyond it → 429 with `Retry-After`'),
    ('MAX_STREAMS_PER_REGION', '`256`',
     'Bedrock calls in flight per region; sizes the connection pool'),
    ('REGION_QUEUE_TIMEOUT_SECONDS', '`0.5`',
     "longest wait for a region's connection slot before failing over / 429"),
    ('MAX_REQUEST_BODY_BYTES', '`20971520`',
     'larger request bodies get 413'),
    ('STREAM_IDLE_TIMEOUT', '`60`',
     'a stream silent upstream this long ends with an error event'),
    ('SSE_HEARTBEAT_SECONDS', '`15`',
     'comment heartbeat while waiting for the first token (load balancer idle timeouts)'),
    ('SHUTDOWN_GRACE_SECONDS', '`30`',
     'after SIGTERM, how long live streams may finish before they end with an error event'),
    ('DRAIN_DELAY_SECONDS', '`5`',
     'after SIGTERM, `/ready` fails at once but new requests are served this long (LB deregistration)'),
    ('ENABLE_PROMPT_CACHING', '`false`',
     'add Bedrock cache points (system, tools, last user turn) for models that support caching'),
    ('GUARDRAIL_IDENTIFIER', '–',
     'Bedrock guardrail applied to every chat request'),
    ('GUARDRAIL_VERSION', '–',
     'its version'),
    ('REASONING_BUDGET_LOW', '`1024`',
     'thinking budget (tokens) for `reasoning_effort: low`'),
    ('REASONING_BUDGET_MEDIUM', '`4096`',
     '… for `medium`'),
    ('REASONING_BUDGET_HIGH', '`16384`',
     '… for `high`'),
    ('IMAGE_FETCH_ALLOWLIST', '–',
     'CIDRs or host names that `image_url` fetching may reach despite the SSRF guard'),
    ('IMAGE_FETCH_MAX_BYTES', '`3932160`',
     'largest image fetched from a URL'),
    ('IMAGE_FETCH_TIMEOUT_SECONDS', '`10`',
     'time limit for fetching one image'),
    ('IMAGE_FETCH_MAX_TOTAL_BYTES', '`16777216`',
     'largest sum of the remote images of one request (at most 20 distinct URLs, Bedrock\'s limit)'),
    ('IMAGE_FETCH_CONCURRENCY', '`4`',
     'images of one request fetched at once'),
    ('IMAGE_FETCH_BUDGET_BYTES', '`67108864`',
     'image bytes one process holds at once (fetches in flight and fetched images of live requests); beyond it → 429'),
    ('REQUEST_HEAD_TIMEOUT_SECONDS', '`10`',
     'a request head (request line and headers) must arrive within this time of its first byte, else 408 and the connection is closed'),
    ('REQUEST_BODY_TIMEOUT_SECONDS', '`60`',
     'a request body must arrive within this time, else 408'),
    ('KEEPALIVE_TIMEOUT_SECONDS', '`75`',
     'an idle connection (also a new one that sends nothing) is closed after this long; keep it above the load balancer\'s idle timeout'),
    ('REQUEST_BODY_BUDGET_BYTES', '`67108864`',
     'request-body bytes one process holds at once (received and parsed, until the request ends); beyond it → 429'),
    ('EMBEDDING_CONCURRENCY', '`8`',
     'concurrent InvokeModel calls for one embeddings request'),
    ('BREAKER_FAILURE_THRESHOLD', '`5`',
     ('consecutive region faults (connection errors, timeouts, Bedrock 5xx; never throttling or '
      "client errors) that open one (region, model) route's breaker (`docs/health.md`)")),
    ('BREAKER_COOLDOWN_SECONDS', '`30`',
     ('how long an open route is tried only after the other regions (never refused), before a '
      'probe')),
    ('THROTTLE_BACKOFF_SECONDS', '`5`',
     ('after a throttle, how long that (region, model) is tried after the other regions; `0` '
      'turns it off')),
    ('RESPONSES_HOSTED_TOOLS', '`drop`',
     'hosted tools in a Responses request (`web_search`, `file_search`, `code_interpreter`, `computer_use_preview`, …): `drop` accepts them without forwarding (named in the `X-Gateway-Dropped-Tools` response header), `reject` makes them a 400'),
    ('RESPONSES_ENCRYPTION_KEY', 'random per process',
     'secret(s) sealing reasoning into Responses `encrypted_content` (AES-256-GCM, key derived with HKDF-SHA256); comma-separated, newest first: the first seals, all open (rotation). Set the same value on every replica'),
    ('RESPONSES_ENCRYPTION_KEY_FILE', '–',
     'file holding more such secrets (a mounted Secret; one per line or comma-separated), after those of `RESPONSES_ENCRYPTION_KEY`; read at start'),
    ('RESPONSES_STORE_MAX_ITEMS', '`10000`',
     'stored responses kept in process (without `REDIS_URL`); the oldest go first'),
    ('RESPONSES_STORE_MAX_BYTES', '`268435456`',
     'bytes of stored responses kept in process'),
    ('RESPONSES_STORE_TTL_SECONDS', '`2592000`',
     'how long a stored response lives (in process or in Redis), 30 days'),
    ('REDIS_URL', '–',
     '`redis://…` / `rediss://…` (TLS), with `user:password@` for AUTH/ACL: one Redis for the whole gateway. Stored responses (any replica continues a conversation) and virtual keys with their counters (limits hold across every replica); see `docs/keys.md`'),
    ('REDIS_TIMEOUT_SECONDS', '`2`',
     'bound of every Redis call off the request path (store operations, admin API, settling usage); a slow or unreachable Redis answers 503 `response_store_unavailable` for store operations'),
    ('ADMIN_API_KEY', '–',
     'enables the admin API under `/admin/v1` (create, list, update, revoke virtual keys, read usage); at least 16 characters, never accepted on the data routes, and no data key is accepted on the admin API'),
    ('KEYS_FILE', '–',
     'YAML file of virtual keys without Redis (`keys: [...]`, salted hashes only; a mounted Secret works), re-read within 1 s of a change; the admin API writes it when it is writable'),
    ('KEYS_PEPPER', '–',
     "server-side secret mixed into every virtual key's hash (HMAC-SHA256 with a per-key salt); set the same value on every replica; changing it invalidates every virtual key"),
    ('KEYS_REDIS_TIMEOUT_SECONDS', '`0.05`',
     'bound of the Redis calls on the request path (key lookup, limit check-and-reserve)'),
    ('REDIS_FAILURE_POLICY', '`open`',
     'when Redis cannot answer a limit check in time: `open` serves the request unchecked (counted in `bedrock_gateway_limiter_fail_open_total`), `closed` answers 503 `rate_limiter_unavailable`'),
    ('KEYS_CACHE_SECONDS', '`1`',
     'how long a replica caches a key record (0 to 1); revocation is seen at once anyway (checked inside every limit check)'),
    ('KEYS_DEFAULT_OUTPUT_TOKENS', '`1024`',
     "output tokens a request without `max_tokens` reserves against its key's tokens-per-minute limit until Bedrock's usage settles it"),
    ('KEYS_METRICS_TOP_N', '`20`',
     'distinct key ids (and teams) that get their own `key` label in the per-key metrics; later ones are `other`'),
    ('KEYS_PRICE_TABLE_FILE', '–',
     "YAML price table (model glob → `input_per_million`, `output_per_million` in USD) for keys' `usd_per_month` budgets"),
    ('DEBUG', '`false`',
     'debug logging (never logs keys; content only with `LOG_CONTENT`)'),
    ('LOG_LEVEL', '`INFO`',
     'log level'),
    ('ACCESS_LOG', '`true`',
     'one JSON line per request on stdout (`off` to disable)'),
    ('LOG_CONTENT', '`false`',
     'explicit opt-in to log prompts and completions, at debug level of the `bedrock_gateway.content` logger (so only with `DEBUG=true` or `LOG_LEVEL=DEBUG`)'),
    ('TRUSTED_PROXY_COUNT', '`0`',
     'proxies in front of the gateway whose `X-Forwarded-For` entries are trusted'),
    ('ALLOWED_ORIGINS', '`*`',
     'CORS: comma list of browser origins allowed to call the API (`*` = any, as the incumbent; empty = CORS off); credentials are never allowed with `*`'),
    ('LOG_FORMAT', '`text`',
     'application log format: `text` or `json` (one JSON object per line with `trace_id`; a traceback is one field)'),
)


def markdown_rows() -> list[str]:
    """The README table's body rows."""
    return [f"| `{name}` | {default} | {meaning} |" for name, default, meaning in SETTINGS_TABLE]


def plain(text: str) -> str:
    """Markdown cell text for a terminal: no backticks, no bold."""
    return text.replace("`", "").replace("**", "")


def help_text(width: int = 100) -> str:
    """The settings part of `--help`: one entry per variable, wrapped for a terminal."""
    import textwrap

    out = [("settings (environment variables, or keys of the GATEWAY_CONFIG_FILE YAML file;"
            " the environment wins; flags win over both):")]
    for name, default, meaning in SETTINGS_TABLE:
        head = f"  {name} (default {plain(default)})"
        out.append(head)
        out.extend(textwrap.wrap(plain(meaning), width=width, initial_indent="      ",
                                 subsequent_indent="      "))
    return "\n".join(out)

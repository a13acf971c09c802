"""The one redaction function: every byte the doctor prints or writes goes through it.

Reports get pasted into public issues and attached to CI artefacts, so every renderer
(human, JSON, JUnit, Markdown, GitHub), ``snapshot``, explain's quotes of log lines,
error lines on stderr and the crash file use :func:`redact` (text) or
:func:`redact_data` (parsed JSON-like data, where a key that names a secret hides its
value whatever the value looks like).

What is replaced by ``<redacted>``:

* the values of this process's environment variables whose names say TOKEN, KEY,
  SECRET, PASSWORD, CREDENTIAL or AUTH, wherever they appear;
* token shapes: Hugging Face ``hf_``, GitHub ``ghp_``/``github_pat_``, GitLab
  ``glpat-``, NVIDIA/NGC ``nvapi-``, OpenAI/Anthropic ``sk-``, AWS ``AKIA``/``ASIA`` key
  ids, Google ``AIza`` keys and ``ya29.`` OAuth tokens, Slack ``xox?-``, JWTs, PEM
  private keys, Telegram bot and Slack/Discord webhook URLs;
* ``Authorization:``/``Proxy-Authorization:`` values, ``Bearer``/``Basic``/``Token``
  credentials, ``Cookie:``/``Set-Cookie:`` values and API-key headers
  (``X-Api-Key:``, ``PRIVATE-TOKEN:``, ``X-Auth-Token:``...);
* the value after a key that names a secret, in every syntax a log or config uses:
  ``k=v``, ``k: v``, ``k = v``, ``"k": "v"``, ``'k': 'v'``, ``\\"k\\": \\"v\\"``,
  ``--k v``, ``--k=v``, with the key in any case (``db_password``, ``client_secret``,
  ``aws_secret_access_key``, ``authToken``, ``pwd``, ``X-Amz-Signature``, ``sig``...);
* passwords in URLs (``scheme://user:pass@host``, an ``@`` inside the password
  included) and token-looking URL user names (``https://hf_...@huggingface.co``),
  hence in proxy variables and pip index URLs too; ``mysql -pPASS``.

Placeholders (``<token>``, ``${HF_TOKEN}``, ``$TOKEN``, ``***``) are left alone, so
fix texts that name a variable still read well.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

REDACTED = "<redacted>"

# environment variable names whose values are secrets
_ENV_SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSW(?:OR)?D|PWD|CREDENTIAL|AUTH|COOKIE|SESSION|SIGNATURE", re.I)
_ENV_NOT_SECRET = re.compile(r"^(?:OLDPWD|PWD|SSH_AUTH_SOCK|KEYMAP|GPG_AGENT_INFO|XAUTHORITY|.*_KEYBOARD.*)$", re.I)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_ANSI_INSIDE = re.compile(r"(?<=[\w=:'\"-])(?:" + _ANSI.pattern + r")+(?=[\w=:'\"-])")

# A key names a secret when its last word is one of these (db_password, client_secret, authToken, X-Amz-Signature).
_SECRET_WORDS = (
    "password", "passwd", "passphrase", "pwd", "pass", "secret", "token", "credential", "credentials",
    "apikey", "api_key", "accesskey", "access_key", "secretkey", "secret_key", "privatekey", "private_key",
    "accountkey", "account_key", "authkey", "auth_key", "masterkey", "master_key", "signingkey", "signing_key",
    "encryptionkey", "encryption_key", "sessionkey", "session_key", "clientkey", "client_key", "licensekey",
    "license_key", "signature", "sig", "auth", "authorization", "cookie", "session", "sessionid", "session_id",
    "sas", "sastoken", "connectionstring", "connection_string",
)
_NOT_SECRET_KEYS = re.compile(
    r"^(?:(?:eos|bos|pad|unk|sep|cls|mask|special|additional_special|decoder_start|image|video|audio|vision)[_-]?token"
    r"|(?:max|num|min)[_-]?token|token[_-]?(?:id|ids|type|count|len|length|limit|budget|s)|.*tokens?[_-]per[_-].*|.*per[_-]token"
    r"|pass(?:es)?|bypass|compass|sig(?:nal|ma|moid)?s?|auth[_-]?(?:type|method|mode|url|host|enabled|scheme))$",
    re.I,
)
_KEY = r"(?<![A-Za-z0-9_.\-])[A-Za-z_][A-Za-z0-9_.\-]{0,79}"  # a whole word, bounded: linear on a 100 kB run of letters
_WORD_TAIL = re.compile(r"(?:^|[_.\-]|(?<=[a-z0-9])(?=[A-Z]))([A-Za-z]+)$")


_KEY_WORDS = ("pass", "pwd", "secret", "token", "credential", "key", "sig", "auth", "cookie", "session", "sas", "connection")


@functools.lru_cache(maxsize=4096)
def secret_key(name: str) -> bool:
    """Whether a key or variable name names a secret (``HF_TOKEN``, ``db_password``, ``authToken``; not ``max_tokens``)."""
    if not name or len(name) > 80:
        return False
    low = name.lower()
    if not any(w in low for w in _KEY_WORDS):  # every secret word below holds one of these
        return False
    bare = name.strip("-").strip()
    if _NOT_SECRET_KEYS.match(bare):
        return False
    low = bare.lower().replace("-", "_")
    for word in _SECRET_WORDS:
        if low == word or low.endswith("_" + word) or low.endswith("." + word):
            return True
    # camelCase: authToken, clientSecret, apiKey, xAmzSignature
    m = re.search(r"(?<=[a-z0-9])(Token|Secret|Password|Passwd|Pwd|Key|Credentials?|Signature|Cookie|Auth)$", bare)
    if m:
        return m.group(1) != "Key" or re.search(r"(?:api|access|secret|private|account|auth|master|client|session)Key$", bare, re.I) is not None
    # upper-case environment style: NGC_API_KEY, MY_KEY, AWS_SECRET_ACCESS_KEY
    return bare.isupper() and re.search(r"(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIALS?)$", bare) is not None


def _placeholder(value: str) -> bool:
    v = value.strip().strip("'\"")
    return (not v or v.startswith(("<", "${", "$", "%", "{{", "*", "(")) or v.lower() in
            ("none", "null", "nil", "true", "false", "yes", "no", "redacted", "xxx", "xxxx", "...", "-", "''", '""', "[redacted]"))


def _looks_secret(value: str) -> bool:
    """A token-like value after a weak marker (Bearer, a space-separated upper-case name): digits, mixed case or length."""
    if _placeholder(value) or len(value) < 4:
        return False
    return (any(c.isdigit() for c in value) or (any(c.isupper() for c in value[1:]) and any(c.islower() for c in value))
            or len(value) >= 20 or any(c in value for c in "+/=_-"))


_TOKENS = [
    r"\bhf_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]{6,}",  # Hugging Face (hf_transfer, a package, has no digit/capital)
    r"\bapi_org_[A-Za-z0-9]{16,}",  # Hugging Face org token
    r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{16,}",  # GitHub
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_\-]{16,}",  # GitLab
    r"\bnvapi-[A-Za-z0-9_\-]{6,}",  # NVIDIA API catalogue / NGC
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{12,}\b",  # AWS key ids
    r"\bAIza[0-9A-Za-z_\-]{20,}",  # Google API key
    r"\bya29\.[0-9A-Za-z_\-]{10,}",  # Google OAuth access token
    r"\bsk-(?:proj-|ant-|live-|test-)?(?=[A-Za-z0-9_\-]*[A-Z0-9])[A-Za-z0-9_\-]{16,}",  # OpenAI/Anthropic/Stripe
    r"\b[rp]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack
    r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{6,}",  # JWT
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    r"(?<=api\.telegram\.org/bot)[^/\s\"']+",  # Telegram bot token in the path
    r"(?<=hooks\.slack\.com/services/)[^\s\"']+",
    r"(?<=discord\.com/api/webhooks/)[^\s\"']+|(?<=discordapp\.com/api/webhooks/)[^\s\"']+",
]
_TOKEN_ANY = re.compile("|".join(f"(?:{p})" for p in _TOKENS), re.S)  # one pattern: one pass over the text
# Authorization-style headers: the scheme and credential of Authorization, a whole Cookie line, one token otherwise.
_AUTH_HEADER = re.compile(r"(?i)(?<![\w-])((?:proxy-)?authorization)(\s*:\s*)((?:(?:bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+)?[^\s\"']+)")
_COOKIE_HEADER = re.compile(r"(?i)(?<![\w-])(cookie|set-cookie)(\s*:\s*)([^\r\n\"']+)")
_KEY_HEADER = re.compile(
    r"(?i)(?<![\w-])(x-[\w-]*?(?:api-?key|token|secret|auth|signature|session)[\w-]*|private-token|api-key|x-goog-api-key)"
    r"(\s*:\s*)([^\s\"']+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9._~+/=\-:]{3,})")
# URL user info: the password (which may itself hold '@') and token-looking user names.
_URL_CRED = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,15}://)([^/\s?#@:\"'<>]*):([^/\s?#\"'<>]+)@(?=[^/\s?#@\"'<>]*(?:[/?#\s\"'<>]|$))")  # the host may be cut off (a value quoted short)
# user:password of a URL cut before its '@' (a value quoted short): after "scheme://user:" a port is digits
_URL_CUT = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,15}://)([^/\s?#@:\"'<>\[\]]+):(?!\d+(?:[/?#\s\"'<>]|$))"
                      r"([^/\s?#@:\"'<>]{4,})(?=[\"'\s<>]|$)")
_URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,15}://)([^/\s?#@:\"'<>]{12,})@")
# key = value in every syntax: optional quote (and backslash-escaped quote) around the key, = or :, quoted or bare value
_ASSIGN = re.compile(
    r"(?P<q1>\\?[\"']?)(?P<key>" + _KEY + r")(?P=q1)(?P<sep>[ \t\u00a0]*(?:=(?!=)|:(?!//|:))[ \t\u00a0]*)"
    r"(?:(?P<vq>\\?[\"'])(?P<qval>(?:(?!(?P=vq)).){1,4096}?)(?P=vq)|(?P<val>[^\s\"',;&}\])]{1,4096})"
    r"|(?P<oq>\\?[\"'])(?P<oval>[^\s\"'\\,;&}\])]{1,4096}))"  # a quote never closed: a value cut short
)
_FLAG = re.compile(r"(?<![^\s'\"(\[=,])(?P<flag>--?[A-Za-z][A-Za-z0-9_\-]{0,79})(?P<sep>[ \t]+|=)(?P<vq>[\"']?)(?P<val>[^\s\"')\]}]{1,4096})(?P=vq)")
_SPACED = re.compile(r"(?<![A-Za-z0-9_])(?P<key>(?:[A-Z][A-Z0-9_]{0,79}_)?(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY))(?P<sep>[ \t]+)(?P<val>[^\s\"']{4,4096})")
_MYSQL = re.compile(r"(?i)\b(mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b([^\r\n]*?\s)-p(?!\s)([^\s\"']+)")
_NETRC = re.compile(r"(?i)\b(login\s+\S+\s+password\s+)(\S+)")
# anything that could start a secret: strings without one are returned at once (most strings are versions and
# paths). Plain substrings of the lower-cased text (a superset of what the patterns need), since ``in`` is far
# faster than one regex alternation on the thousands of short strings of a report.
_TRIGGER_WORDS = (
    "hf_", "api_org", "gh", "github_pat", "glpat", "nvapi", "akia", "asia", "agpa", "aida", "aroa", "anpa", "aiza", "ya29",
    "sk-", "k_live", "k_test", "xox", "eyj", "-----begin", "telegram", "hooks.slack", "webhooks", "auth", "bearer", "basic",
    "digest", "cookie", "token", "secret", "pass", "pwd", "key", "credential", "signature", "sig", "session", "sas",
    "connection", "://", "mysql", "mariadb", "login", "\x1b",
)


def _triggered(text: str) -> bool:
    low = text.lower()
    return any(w in low for w in _TRIGGER_WORDS)


def env_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Values of this process's secret-named environment variables (8 characters or more), longest first."""
    env = os.environ if environ is None else environ
    values = set()
    for k, v in env.items():
        if not v or len(v) < 8 or _placeholder(v) or _ENV_NOT_SECRET.match(k):
            continue
        if _ENV_SECRET_NAME.search(k):
            values.add(v)
        elif k.upper().endswith(("_PROXY", "_URL", "_URI", "_DSN")) or k.upper() in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
            m = re.search(r"://[^/\s:@]*:([^/\s@]+)@", v)  # the password of a proxy or index URL
            if m and len(m.group(1)) >= 4:
                values.add(m.group(1))
    return sorted(values, key=len, reverse=True)


_env_cache: tuple[tuple[tuple[str, str], ...], re.Pattern[str] | None] | None = None


def _env_pattern(environ: dict[str, str] | None) -> re.Pattern[str] | None:
    global _env_cache
    env = os.environ if environ is None else environ
    key = tuple(sorted(env.items()))
    if _env_cache is not None and _env_cache[0] == key:
        return _env_cache[1]
    values = env_secrets(env)
    pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None
    _env_cache = (key, pattern)
    return pattern


def _assign(m: re.Match[str]) -> str:
    key = m.group("key")
    value = next((v for v in (m.group("qval"), m.group("val"), m.group("oval")) if v is not None), "")
    if not secret_key(key) or _placeholder(value) or _VERSION.fullmatch(value):
        return m.group(0)
    if m.group("oval") is not None:
        return f"{m.group('q1')}{key}{m.group('q1')}{m.group('sep')}{m.group('oq')}{REDACTED}"
    if m.group("qval") is not None:
        vq = m.group("vq")
        return f"{m.group('q1')}{key}{m.group('q1')}{m.group('sep')}{vq}{REDACTED}{vq}"
    return f"{m.group('q1')}{key}{m.group('q1')}{m.group('sep')}{REDACTED}"


def _rescanning_sub(pattern: re.Pattern[str], repl, text: str) -> str:
    """re.sub where a match left as is gives back its value part: ``OSError: token=x`` must still see ``token=x``."""
    out, pos = [], 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            break
        new = repl(m)
        if new != m.group(0):
            out.append(text[pos:m.start()] + new)
            pos = m.end()
        else:
            keep = max(m.end("sep"), m.start() + 1)
            out.append(text[pos:keep])
            pos = keep
    out.append(text[pos:])
    return "".join(out)


def _bearer(m: re.Match[str]) -> str:
    scheme, value = m.group(1), m.group(3)
    strong = scheme.lower() == "bearer"
    if not _looks_secret(value) or (not strong and (len(value) < 8 or not any(c.isdigit() for c in value))):
        return m.group(0)
    return f"{scheme}{m.group(2)}{REDACTED}"


_VERSION = re.compile(r"=?[<>=!~]*\s*\d+(?:\.\d+)+(?:[.+\-]?[A-Za-z0-9]+)*")


def _flag(m: re.Match[str]) -> str:
    name = m.group("flag").lstrip("-")
    value = m.group("val")
    if not secret_key(name) or _placeholder(value) or value.startswith("-"):
        return m.group(0)
    return f"{m.group('flag')}{m.group('sep')}{m.group('vq')}{REDACTED}{m.group('vq')}"


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    """``text`` with every secret-looking substring replaced by ``<redacted>`` (ANSI escapes removed too)."""
    if not isinstance(text, str) or not text:
        return text
    return _redact(text, _env_pattern(environ))


def _redact(text: str, env: re.Pattern[str] | None) -> str:
    if env is not None:
        text = env.sub(REDACTED, text)
    if not _triggered(text):
        return text
    if "\x1b" in text:  # a colour code inside a name or token (PASS\x1b[0mWORD=..., hf_\x1b[1m...) must not hide it
        text = _ANSI_INSIDE.sub("", text)
    return _patterns(text)


def _patterns(text: str) -> str:
    text = _TOKEN_ANY.sub(REDACTED, text)
    for header in (_AUTH_HEADER, _COOKIE_HEADER, _KEY_HEADER):
        text = header.sub(lambda m: m.group(0) if _placeholder(m.group(3)) else f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _BEARER.sub(_bearer, text)
    text = _URL_CRED.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@" if not _placeholder(m.group(3)) else m.group(0), text)
    text = _URL_CUT.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}" if not _placeholder(m.group(3)) else m.group(0), text)
    text = _URL_USER.sub(lambda m: f"{m.group(1)}{REDACTED}@" if _looks_secret(m.group(2)) else m.group(0), text)
    text = _MYSQL.sub(lambda m: f"{m.group(1)}{m.group(2)}-p{REDACTED}", text)
    text = _NETRC.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _rescanning_sub(_ASSIGN, _assign, text)
    text = _rescanning_sub(_FLAG, _flag, text)
    text = _SPACED.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}" if _looks_secret(m.group("val")) else m.group(0), text)
    return text


def redactor(environ: dict[str, str] | None = None):
    """(text -> text, data -> data) with the environment's secrets collected once: for redacting many strings
    (a whole report) without rebuilding the environment pattern for each."""
    env = _env_pattern(environ)
    return ((lambda text: _redact(text, env) if isinstance(text, str) and text else text),
            (lambda value: _redact_data(value, env, 0)))


def redact_data(value: Any, environ: dict[str, str] | None = None) -> Any:
    """A copy of JSON-like data with every string redacted, and the value of every key that names a secret hidden."""
    return _redact_data(value, _env_pattern(environ), 0)  # the environment's secrets are collected once per call


def _redact_data(value: Any, env: re.Pattern[str] | None, depth: int) -> Any:
    if depth > 200:
        return REDACTED
    if isinstance(value, str):
        return _redact(value, env) if value else value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = _redact(k, env) if isinstance(k, str) and k else k
            if isinstance(k, str) and isinstance(v, str) and secret_key(k) and not _placeholder(v) \
                    and not _VERSION.fullmatch(v):
                out[key] = REDACTED
            else:
                out[key] = _redact_data(v, env, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact_data(v, env, depth + 1) for v in value]
    return value

"""Secrets in job environments: which keys hold one, and how they are hidden.

A value is secret when its key names a secret (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``,
``*KEY*``, ``*CREDENTIAL*``, ``*AUTH*``, ``*PRIVATE*``). Secret values are replaced by
``REDACTED`` in every API response, in served logs and in events; they are passed to the job's
process unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "***"
_SECRET_KEY = re.compile(r"TOKEN|SECRET|PASSW|KEY|CREDENTIAL|AUTH|PRIVATE|COOKIE|SESSION", re.I)
MIN_SECRET_LEN = 4  # shorter values are not searched for in logs (they would match everywhere)


def is_secret(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact_env(env: Mapping[str, Any]) -> dict[str, Any]:
    return {k: REDACTED if is_secret(k) else v for k, v in env.items()}


def secret_values(env: Mapping[str, Any]) -> list[str]:
    return sorted(
        {str(v) for k, v in env.items() if is_secret(k) and len(str(v)) >= MIN_SECRET_LEN},
        key=len,
        reverse=True,
    )


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def redact_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    env = out.get("env")
    if isinstance(env, Mapping):
        out["env"] = redact_env(env)
    return out

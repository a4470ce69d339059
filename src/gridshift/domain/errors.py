"""gridshift's one exception hierarchy.

Every error we raise on purpose is a ``GridshiftError``. Each carries structured fields so that the
CLI can print one line (and exit 2 for a user's mistake) and the API can answer problem+json
(4xx for a user's mistake), without parsing messages::

    GridshiftError                  base: message + optional hint (how to fix it)
    ├── UserError                   the caller's input is wrong; exit 2 / HTTP 4xx; nothing changed
    │   ├── ConfigError             a config file or job spec field: source, field, value, accepted
    │   ├── SignalDataError         a signal file or payload that cannot be used: source, reason
    │   └── NotFoundError           a named thing (zone/kind series, job, cluster) does not exist
    ├── ProviderError               a live signal provider failed: provider, status
    │   ├── ProviderAuthError       401/403: a missing or wrong key (also a UserError)
    │   ├── ProviderRequestError    400/404: a zone or region the provider does not serve (also a
    │   │                           UserError)
    │   └── ProviderUnavailableError  down, slow, rate-limited past the time budget: fall back
    └── InternalError               our bug or an unexpected environment; exit 1 / HTTP 5xx

Rules: raise the most specific class; put the fix in ``hint``; never wrap a user's mistake in a
traceback. Code outside ``cli`` and ``api`` never prints an error; it raises one of these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class GridshiftError(Exception):
    """Base of every error gridshift raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint on one line, as the CLI prints it."""
        text = f"{self.message} — {self.hint}" if self.hint else self.message
        return " ".join(text.split())


class UserError(GridshiftError):
    """The caller's input is wrong. Nothing was changed."""


class ConfigError(UserError):
    """A field of a configuration file or job spec is missing, unknown or invalid.

    ``source`` names the file (or "request body"), ``field`` the dotted path of the key,
    ``value`` the offending value and ``accepted`` what would be accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        field: str | None = None,
        value: Any = None,
        accepted: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.accepted = accepted
        self.custom_hint = hint
        where = ": ".join(p for p in (source, field) if p)
        full = f"{where}: {message}" if where else message
        if value is not None and value != "":
            shown = repr(value) if not isinstance(value, int | float) else str(value)
            full += f" (got {shown[:80]})"
        if hint is None and accepted:
            hint = f"accepted: {accepted}"
        super().__init__(full, hint=hint)
        self.detail = message

    def at(self, source: str, prefix: str = "") -> ConfigError:
        """The same error located in ``source``, its field under ``prefix`` (``clusters[0]``)."""
        field = ".".join(p for p in (prefix, self.field or "") if p) or None
        return ConfigError(
            self.detail,
            source=source,
            field=field,
            value=self.value,
            accepted=self.accepted,
            hint=self.custom_hint,
        )


class SignalDataError(UserError):
    """A signal file or payload that cannot be used, with the reason and where it was found."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        rows: Iterable[int] = (),
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.rows = tuple(int(r) for r in list(rows)[:100])  # the first 100 bad rows
        full = f"{source}: {message}" if source else message
        super().__init__(full, hint=hint)
        self.detail = message


class NotFoundError(UserError):
    """A named thing does not exist (a stored series, a job, a cluster)."""


class ProviderError(GridshiftError):
    """A live signal provider could not give us data. ``status`` is the HTTP status, if any."""

    def __init__(
        self, message: str, *, provider: str, status: int | None = None, hint: str | None = None
    ) -> None:
        self.provider = provider
        self.status = status
        self.detail = message
        super().__init__(f"{provider}: {message}", hint=hint)


class ProviderAuthError(ProviderError, UserError):
    """The provider refused our credentials (401/403): a key is missing, wrong or not entitled."""


class ProviderRequestError(ProviderError, UserError):
    """The provider refused the request itself (400/404): usually a zone or region it lacks."""


class ProviderUnavailableError(ProviderError):
    """The provider is down, too slow, or rate-limits us past our time budget. Callers fall back."""


class InternalError(GridshiftError):
    """Our bug or an unexpected environment, never the user's input."""

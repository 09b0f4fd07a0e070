"""Optional bearer-token auth: with an API key set, a request must carry
``Authorization: Bearer <key>`` (compared in constant time), else a 401 in OpenAI's shape."""

from __future__ import annotations

import hmac

from llamaprov.serve._errors import APIError


def check_bearer(header: str | None, api_key: str | None) -> None:
    """Raise a 401 :class:`APIError` unless ``header`` (the Authorization header) carries
    ``api_key``; no key configured: every request passes."""
    if api_key is None:
        return
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise APIError(401, "missing API key: send it as 'Authorization: Bearer <key>'",
                       code="invalid_api_key")
    if not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise APIError(401, "incorrect API key provided", code="invalid_api_key")


__all__ = ["check_bearer"]

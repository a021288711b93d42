"""The HTTP clients for Shopify under their long-standing import path.

The code lives by concern: `transport` (endpoints, sessions, timeouts, resends, the OAuth token
request), `graphql` (Admin GraphQL, cost budget and throttling, the error mapping) and `files`
(staged uploads, CDN downloads). Callers outside this package may keep importing these names
from here.
"""

from integrations.shopify.files import (
    BULK_RESULT_HOSTS,
    CDN_HOSTS,
    download,
    staged_upload,
    stream,
)
from integrations.shopify.graphql import CallStats, ShopifyClient
from integrations.shopify.transport import (
    DOWNLOAD_TIMEOUT,
    GRAPHQL_TIMEOUT,
    MAX_ATTEMPTS,
    OAUTH_TIMEOUT,
    UPLOAD_TIMEOUT,
    USER_AGENT,
    Endpoint,
    OAuthRefused,
    oauth_token,
)

__all__ = [
    "BULK_RESULT_HOSTS",
    "CDN_HOSTS",
    "DOWNLOAD_TIMEOUT",
    "GRAPHQL_TIMEOUT",
    "MAX_ATTEMPTS",
    "OAUTH_TIMEOUT",
    "UPLOAD_TIMEOUT",
    "USER_AGENT",
    "CallStats",
    "Endpoint",
    "OAuthRefused",
    "ShopifyClient",
    "download",
    "oauth_token",
    "staged_upload",
    "stream",
]

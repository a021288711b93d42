"""Shopify's published Admin GraphQL schema for the pinned version, loaded offline.

The introspection file comes from the npm package `@shopify/dev-mcp` (1.16.0,
`dist/data/admin_2026-10.json.gz`), shipped beside this module as package data. Tests that
validate the app's GraphQL documents load it from here too (`admin_schema_sdl`).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib.resources import files

from graphql import GraphQLSchema, build_client_schema, build_schema, print_schema

API_VERSION = "2026-10"


@cache
def admin_schema(version: str = API_VERSION) -> GraphQLSchema:
    """The executable schema built from the introspection result (about half a second)."""
    data = files(__package__) / f"admin_{version}.json.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        introspection = json.load(fh)
    return _trusted(build_client_schema(introspection["data"]))


@cache
def admin_schema_sdl(version: str = API_VERSION) -> GraphQLSchema:
    """The same schema round-tripped through SDL: NoDeprecatedCustomRule needs this form
    (it crashes on the introspection-built one)."""
    return _trusted(build_schema(print_schema(admin_schema(version))))


def _trusted(schema: GraphQLSchema) -> GraphQLSchema:
    """Skip graphql-core's schema self-check: Shopify's schema deprecates a few fields that
    implement non-deprecated interface fields (e.g. ChannelDefinition.id), which the spec's
    type-system rules reject. Documents are still validated in full against it."""
    schema._validation_errors = []  # noqa: SLF001 - graphql-core's documented cache slot
    return schema

"""Every GraphQL document PhotoSync sends is valid against Shopify's real Admin schema for the
pinned API version, and uses no deprecated field, argument or enum value."""

from __future__ import annotations

import pytest
from graphql import parse, specified_rules, validate
from graphql.validation import NoDeprecatedCustomRule

from emulators.shopify.schema import API_VERSION, admin_schema_sdl
from integrations.shopify import queries


def test_the_pinned_version_is_the_schema_under_test(settings):
    from photosync import settings as project_settings

    assert project_settings.SHOPIFY_API_VERSION == API_VERSION == "2026-10"


def test_there_are_documents_to_check():
    assert {"PRODUCT", "PRODUCTS_BY_ID", "STAGED_UPLOADS_CREATE", "PRODUCT_MEDIA_ATTACH",
            "MEDIA_STATUS", "PRODUCT_REORDER_MEDIA", "FILE_UPDATE", "BULK_OPERATION_RUN_QUERY",
            "BULK_PRODUCTS", "PRODUCT_VARIANT_MEDIA", "PRODUCT_VARIANT_APPEND_MEDIA",
            "PRODUCT_VARIANT_DETACH_MEDIA"} <= set(queries.ALL)


@pytest.mark.parametrize("name", sorted(queries.ALL))
def test_document_is_valid_and_not_deprecated(name):
    schema = admin_schema_sdl()
    document = parse(queries.ALL[name].text)
    errors = validate(schema, document, [*specified_rules, NoDeprecatedCustomRule])
    assert [e.message for e in errors] == []


def test_the_check_catches_deprecated_and_invalid_documents():
    schema = admin_schema_sdl()
    rules = [*specified_rules, NoDeprecatedCustomRule]
    deprecated = parse('query { product(id: "gid://shopify/Product/1") { featuredImage { url } } }')
    assert any("deprecated" in e.message for e in validate(schema, deprecated, rules))
    old_mutation = parse(
        'mutation { productCreateMedia(productId: "1", media: []) { media { id } } }'
    )
    assert any("deprecated" in e.message for e in validate(schema, old_mutation, rules))
    wrong = parse('query { product(id: "1") { imagez } }')
    assert validate(schema, wrong, rules)

"""Every Admin GraphQL document PhotoSync sends, as named constants.

`tests/shopify/test_queries.py` validates each one against Shopify's published Admin schema
for the pinned version, with deprecated fields refused. Page sizes keep the requested cost
well under the 1,000-point ceiling of a single query (connections multiply).

`retry_safe` says whether sending the document twice is harmless. The client re-sends only
those after an outcome it cannot know (a timeout, a 5xx); the others surface the error and
the caller re-reads before deciding (e.g. the push looks for its media before attaching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    text: str
    retry_safe: bool = True

    @property
    def name(self) -> str:
        match = re.search(r"\b(?:query|mutation)\s+(\w+)", self.text)
        return match.group(1) if match else "anonymous"


# What we read of a media item: enough to identify ours (file name in a URL), to fetch the
# merchant's image, and to follow processing.
_MEDIA_FIELDS = """
      id
      alt
      status
      mediaContentType
      ... on MediaImage {
        image { url width height }
        originalSource { url }
      }
"""

SHOP = Document("""
query Shop {
  shop { myshopifyDomain name }
}
""")

PRODUCT = Document(f"""
query Product($id: ID!, $after: String) {{
  product(id: $id) {{
    id
    title
    productType
    status
    updatedAt
    hasOnlyDefaultVariant
    media(first: 50, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {_MEDIA_FIELDS} }}
    }}
  }}
}}
""")

# Many products re-read by id in one call (a burst of webhooks): the single read's fields,
# with a media page of 10 as PRODUCTS_PAGE has, so that a call of 25 ids asks for about 826
# points even where Shopify charges `nodes` per id (a product with more media is read again
# whole). An id that names nothing (a deleted product) comes back null.
PRODUCTS_BY_ID = Document(f"""
query ProductsById($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Product {{
      id
      title
      productType
      status
      updatedAt
      hasOnlyDefaultVariant
      media(first: 10) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_MEDIA_FIELDS} }}
      }}
    }}
  }}
}}
""")

# Incremental reads: `query` is e.g. "updated_at:>'2026-11-02T10:00:00Z'", sorted oldest first.
PRODUCTS_PAGE = Document(f"""
query ProductsPage($first: Int!, $after: String, $query: String) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id
      title
      productType
      status
      updatedAt
      hasOnlyDefaultVariant
      media(first: 10) {{
        pageInfo {{ hasNextPage }}
        nodes {{ {_MEDIA_FIELDS} }}
      }}
    }}
  }}
}}
""")

# The read-back after a write: only what it checks (ids in order, alt, status), so that it
# costs about one point per media instead of three.
PRODUCT_MEDIA_STATES = Document("""
query ProductMediaStates($id: ID!, $after: String) {
  product(id: $id) {
    media(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id alt status }
    }
  }
}
""")

MEDIA_STATUS = Document("""
query MediaStatus($id: ID!) {
  node(id: $id) {
    ... on MediaImage {
      id
      status
      alt
      mediaErrors { code message details }
    }
  }
}
""")

STAGED_UPLOADS_CREATE = Document("""
mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets {
      url
      resourceUrl
      parameters { name value }
    }
    userErrors { field message }
  }
}
""")

# Not retry-safe: a resend after an unknown outcome would attach a second media.
PRODUCT_MEDIA_ATTACH = Document(
    f"""
mutation ProductMediaAttach($product: ProductUpdateInput!, $media: [CreateMediaInput!]) {{
  productUpdate(product: $product, media: $media) {{
    product {{
      id
      media(last: 10) {{
        nodes {{ {_MEDIA_FIELDS} }}
      }}
    }}
    userErrors {{ field message }}
  }}
}}
""",
    retry_safe=False,
)

PRODUCT_REORDER_MEDIA = Document("""
mutation ProductReorderMedia($id: ID!, $moves: [MoveInput!]!) {
  productReorderMedia(id: $id, moves: $moves) {
    job { id done }
    mediaUserErrors { field message code }
  }
}
""")

# Detach (referencesToRemove) and alt changes; both leave the same state when repeated.
FILE_UPDATE = Document("""
mutation FileUpdate($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) {
    files { id alt }
    userErrors { field message code }
  }
}
""")

# Our failed media: fileUpdate refuses files that are not READY, fileDelete takes them (and
# their product references) away. Repeating it answers FILE_DOES_NOT_EXIST: done already.
FILE_DELETE = Document("""
mutation FileDelete($ids: [ID!]!) {
  fileDelete(fileIds: $ids) {
    deletedFileIds
    userErrors { field message code }
  }
}
""")

# A product's variants and the media each shows (a variant shows at most one of the product's
# media). Read only for products with options (`hasOnlyDefaultVariant: false`): a product page
# or a bulk query cannot nest variants' media within their cost and depth limits.
PRODUCT_VARIANT_MEDIA = Document("""
query ProductVariantMedia($id: ID!, $after: String) {
  product(id: $id) {
    variants(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        media(first: 1) { nodes { id } }
      }
    }
  }
}
""")

# Tie one of the product's media to variants (READY media only: NON_READY_MEDIA; a variant
# with a media already: PRODUCT_VARIANT_ALREADY_HAS_MEDIA, so a resend changes nothing).
PRODUCT_VARIANT_APPEND_MEDIA = Document("""
mutation ProductVariantAppendMedia($productId: ID!,
                                   $variantMedia: [ProductVariantAppendMediaInput!]!) {
  productVariantAppendMedia(productId: $productId, variantMedia: $variantMedia) {
    productVariants { id }
    userErrors { field message code }
  }
}
""")

# Repeating it answers MEDIA_IS_NOT_ATTACHED_TO_VARIANT: done already.
PRODUCT_VARIANT_DETACH_MEDIA = Document("""
mutation ProductVariantDetachMedia($productId: ID!,
                                   $variantMedia: [ProductVariantDetachMediaInput!]!) {
  productVariantDetachMedia(productId: $productId, variantMedia: $variantMedia) {
    productVariants { id }
    userErrors { field message code }
  }
}
""")

# Starting a bulk operation twice would run two; the caller checks for one in progress.
BULK_OPERATION_RUN_QUERY = Document(
    """
mutation BulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
""",
    retry_safe=False,
)

BULK_OPERATION = Document("""
query BulkOperation($id: ID!) {
  bulkOperation(id: $id) {
    id
    status
    errorCode
    url
    partialDataUrl
    objectCount
    completedAt
  }
}
""")

BULK_OPERATIONS_RUNNING = Document("""
query BulkOperationsRunning {
  bulkOperations(first: 5, query: "status:running OR status:created") {
    nodes { id status type }
  }
}
""")

# The query a bulk operation runs over the whole catalog: no page sizes (bulk operations have
# no cost ceiling); media rows come back as JSONL lines carrying `__parentId`.
BULK_PRODUCTS = Document(f"""
query BulkProducts {{
  products {{
    edges {{
      node {{
        id
        title
        productType
        status
        updatedAt
        hasOnlyDefaultVariant
        media {{
          edges {{
            node {{ {_MEDIA_FIELDS} }}
          }}
        }}
      }}
    }}
  }}
}}
""")

ALL = {
    name: value for name, value in dict(globals()).items()
    if isinstance(value, Document) and name.isupper()
}

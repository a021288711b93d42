"""Query cost as Shopify documents it: scalars and enums 0, objects 1, connections
2 + (first|last) × the cost of one item, mutations 10. Requested cost is computed from the
document before it runs; actual cost from the data it returned (connections by their real
length). See https://shopify.dev/docs/api/usage/limits (calculated query cost).

A list sized by its input (`nodes(ids: [...])`) is charged per id, as a connection is per
item: Shopify does not document the cost of such lists, and this is the answer that does
not make batching look cheaper than it may be (platform.md: code that survives both). Every
object in a returned list costs 1, as any object does. Input lists hold at most 250 items
(MAX_INPUT_ITEMS; Shopify refuses larger ones).
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.language import FragmentSpreadNode

MUTATION_COST = 10
MAX_QUERY_COST = 1000
UNSIZED_CONNECTION = 10  # a connection without first/last (Shopify refuses those outside bulk)
MAX_INPUT_ITEMS = 250  # "input arguments that accept an array have a maximum size of 250"
SIZED_BY = ("ids",)  # list fields whose length is their input's (nodes(ids:))


class _Walker:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def fields(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType):
        """(field node, its definition) pairs, fragments flattened (an upper bound)."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                fields = getattr(parent, "fields", {})
                definition = fields.get(selection.name.value)
                if definition is not None:
                    yield selection, definition
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.schema.get_type(selection.type_condition.name.value) or parent
                yield from self.fields(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value) or parent
                    yield from self.fields(fragment.selection_set, target)

    def arg(self, node: FieldNode, name: str):
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return None

    # --- requested ------------------------------------------------------------------
    def requested(self, selection_set, parent) -> int:
        total = 0
        for node, definition in self.fields(selection_set, parent):
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                continue
            if named.name.endswith("Connection"):
                size = self.arg(node, "first") or self.arg(node, "last") or UNSIZED_CONNECTION
                total += 2 + int(size) * self.item(node.selection_set, named)
            else:
                each = 1 + self.requested(node.selection_set, named)
                total += each * self.list_size(node)
        return total

    def list_size(self, node: FieldNode) -> int:
        """How many objects a field asks for: the length of its sizing input, else 1."""
        for name in SIZED_BY:
            value = self.arg(node, name)
            if isinstance(value, list):
                return max(1, len(value))
        return 1

    def item(self, selection_set, connection: GraphQLNamedType) -> int:
        """The cost of one item of a connection: its edge and node objects and below."""
        total = 0
        for node, definition in self.fields(selection_set, connection):
            named = get_named_type(definition.type)
            if node.name.value == "edges":
                for inner, inner_def in self.fields(node.selection_set, named):
                    if inner.name.value == "node":
                        total += 1 + self.requested(
                            inner.selection_set, get_named_type(inner_def.type)
                        )
                total += 1
            elif node.name.value == "nodes":
                total += 1 + self.requested(node.selection_set, named)
        return total

    # --- actual ---------------------------------------------------------------------
    def actual(self, selection_set, parent, data) -> int:
        if not isinstance(data, dict):
            return 0
        total = 0
        for node, definition in self.fields(selection_set, parent):
            key = node.alias.value if node.alias else node.name.value
            if key not in data or data[key] is None:
                continue
            named = get_named_type(definition.type)
            value = data[key]
            if is_leaf_type(named):
                continue
            if named.name.endswith("Connection"):
                total += 2
                for inner, inner_def in self.fields(node.selection_set, named):
                    inner_key = inner.alias.value if inner.alias else inner.name.value
                    items = value.get(inner_key) or []
                    inner_type = get_named_type(inner_def.type)
                    if inner.name.value == "nodes":
                        total += sum(
                            1 + self.actual(inner.selection_set, inner_type, item)
                            for item in items
                        )
                    elif inner.name.value == "edges":
                        for edge in items:
                            total += 1
                            for n, n_def in self.fields(inner.selection_set, inner_type):
                                if n.name.value == "node" and edge.get("node") is not None:
                                    total += 1 + self.actual(
                                        n.selection_set, get_named_type(n_def.type), edge["node"]
                                    )
            elif isinstance(value, list):
                total += sum(1 + self.actual(node.selection_set, named, v)
                             for v in value if v is not None)
            else:
                total += 1 + self.actual(node.selection_set, named, value)
        return total


def _operation(document: DocumentNode) -> OperationDefinitionNode:
    return next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def requested_cost(schema: GraphQLSchema, document: DocumentNode, variables: dict) -> int:
    walker = _Walker(schema, document, variables)
    operation = _operation(document)
    if operation.operation.value == "mutation":
        root: GraphQLObjectType = schema.mutation_type
        total = 0
        for _node, _definition in walker.fields(operation.selection_set, root):
            total += MUTATION_COST
        return total
    return walker.requested(operation.selection_set, schema.query_type)


def actual_cost(schema: GraphQLSchema, document: DocumentNode, variables: dict,
                data: dict | None) -> int:
    walker = _Walker(schema, document, variables)
    operation = _operation(document)
    if operation.operation.value == "mutation":
        return requested_cost(schema, document, variables)
    return walker.actual(operation.selection_set, schema.query_type, data or {})

"""GraphQL resolvers of the emulator: plain dicts and callables over the in-memory shop,
which graphql-core's default resolver walks (abstract types resolve through `__typename`)."""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from graphql import GraphQLError

from emulators.shopify import state as st
from emulators.shopify.variants import VariantResolvers

if TYPE_CHECKING:
    from emulators.shopify.server import ShopifyEmulator


class Root(VariantResolvers, dict):
    """Query and mutation root for one shop; graphql-core's default resolver calls these."""

    def __init__(self, emulator: ShopifyEmulator, shop: st.Shop, unbounded: bool = False):
        super().__init__()
        self.emu = emulator
        self.shop = shop
        self.unbounded = unbounded
        self.clock = time.monotonic()
        for name in ("shop", "product", "products", "node", "nodes", "bulkOperation",
                     "bulkOperations",
                     "stagedUploadsCreate", "productUpdate", "productReorderMedia",
                     "fileUpdate", "fileDelete", "bulkOperationRunQuery", "productVariant",
                     "productVariantAppendMedia", "productVariantDetachMedia"):
            self[name] = getattr(self, "r_" + name)

    # objects
    def product_obj(self, product: st.Product) -> dict:
        def media(info, first=None, last=None, after=None, **_):
            items = [self.media_obj(self.shop.media[i]) for i in product.media_ids]
            return connection(items, first, last, after, self.unbounded)

        return {
            "__typename": "Product",
            "id": st.gid("Product", product.id),
            "title": product.title,
            "productType": product.product_type,
            "status": product.status,
            "updatedAt": product.updated_at,
            "media": media,
            "hasOnlyDefaultVariant": product.has_only_default_variant(),
            "variants": self.variants_of(product),
        }

    def media_obj(self, media: st.Media) -> dict:
        status = media.status(self.clock)
        url = self.emu.cdn_url(self.shop, media)
        ready = status == "READY"
        source = ready or self.emu.original_source_while_processing
        return {
            "__typename": "MediaImage",
            "id": st.gid("MediaImage", media.id),
            "alt": media.alt,
            "status": status,
            "fileStatus": status,
            "mediaContentType": "IMAGE",
            "mimeType": media.content_type,
            "mediaErrors": [{"code": media.error, "message": _MEDIA_ERRORS.get(media.error, ""),
                             "details": None}] if status == "FAILED" else [],
            "mediaWarnings": [],
            "fileErrors": [],
            "image": {"url": url, "width": media.width, "height": media.height,
                      "altText": media.alt, "id": st.gid("ImageSource", media.id)}
            if ready else None,
            "originalSource": {"url": url, "fileSize": len(media.data)} if source else None,
            "preview": {"status": status if status in ("READY", "FAILED") else "PROCESSING",
                        "image": None},
        }

    def bulk_obj(self, op: st.BulkOperation) -> dict:
        status = op.status(self.clock)
        done = status == "COMPLETED"
        return {
            "__typename": "BulkOperation",
            "id": st.gid("BulkOperation", op.id),
            "status": status,
            "errorCode": None,
            "url": f"{self.emu.base_url}/bulk/{op.id}.jsonl" if done else None,
            "partialDataUrl": None,
            "objectCount": str(op.object_count if done else 0),
            "rootObjectCount": str(op.root_count if done else 0),
            "completedAt": st.now_iso() if done else None,
            "createdAt": st.now_iso(),
            "query": op.query,
            "type": "QUERY",
        }

    # queries
    def r_shop(self, info):
        return {"id": st.gid("Shop", self.emu.shop_payload(self.shop.domain)["id"]),
                "myshopifyDomain": self.shop.domain, "name": self.shop.name.title()}

    def r_product(self, info, id):
        product = self.shop.products.get(st.gid_number(id)) if "/Product/" in id else None
        return self.product_obj(product) if product else None

    def r_products(self, info, first=None, last=None, after=None, query=None, sortKey=None,
                   reverse=False, **_):
        products = list(self.shop.products.values())
        match = re.search(r"updated_at:>'?([^' ]+)'?", query or "")
        if match:
            since = parse_time(match.group(1))
            products = [p for p in products if parse_time(p.updated_at) > since]
        if sortKey == "UPDATED_AT":
            products.sort(key=lambda p: (parse_time(p.updated_at), p.id))
        else:
            products.sort(key=lambda p: p.id)
        if reverse:
            products.reverse()
        return connection([self.product_obj(p) for p in products], first, last, after,
                           self.unbounded)

    def r_node(self, info, id):
        number = st.gid_number(id)
        if "/MediaImage/" in id and number in self.shop.media:
            return self.media_obj(self.shop.media[number])
        if "/Product/" in id and number in self.shop.products:
            return self.product_obj(self.shop.products[number])
        if "/BulkOperation/" in id and number in self.shop.bulk:
            return self.bulk_obj(self.shop.bulk[number])
        return None

    def r_nodes(self, info, ids):
        """Each id's object in order; null for an id that names nothing (a deleted product),
        as Shopify answers."""
        return [self.r_node(info, i) for i in ids]

    def r_bulkOperation(self, info, id):
        op = self.shop.bulk.get(st.gid_number(id))
        return self.bulk_obj(op) if op else None

    def r_bulkOperations(self, info, first=None, query=None, **_):
        ops = [self.bulk_obj(op) for op in self.shop.bulk.values()]
        wanted = {s.upper() for s in re.findall(r"status:(\w+)", query or "")}
        if wanted:
            ops = [op for op in ops if op["status"] in wanted]
        return connection(ops, first, None, None, self.unbounded)

    # mutations
    def r_stagedUploadsCreate(self, info, input):
        targets = []
        for item in input:
            key = secrets.token_hex(12)
            method = item.get("httpMethod") or "PUT"
            filename = re.sub(r"[^\w.\-]", "_", item["filename"])
            upload = st.StagedUpload(key=key, filename=filename, mime_type=item["mimeType"],
                                     method=method, signature=self.emu._sign(key))
            self.emu.uploads[key] = upload
            resource = f"{self.emu.base_url}/staged-uploads/tmp/{self.shop.name}/{key}/{filename}"
            if method == "POST":
                parameters = [
                    ("Content-Type", item["mimeType"]), ("success_action_status", "201"),
                    ("acl", "private"), ("key", f"tmp/{self.shop.name}/{key}/{filename}"),
                    ("x-goog-signature", upload.signature),
                ]
                url = f"{self.emu.base_url}/staged-uploads/"
            else:
                parameters = [("content_type", item["mimeType"]), ("acl", "private")]
                url = f"{resource}?X-Goog-Signature={upload.signature}"
            targets.append({"url": url, "resourceUrl": resource,
                            "parameters": [{"name": n, "value": v} for n, v in parameters]})
        return {"stagedTargets": targets, "userErrors": []}

    def r_productUpdate(self, info, product=None, media=None, **_):
        number = st.gid_number((product or {}).get("id", ""))
        target = self.shop.products.get(number)
        if target is None:
            return {"product": None,
                    "userErrors": [{"field": ["id"], "message": "Product does not exist"}]}
        for field, key in (("title", "title"), ("productType", "product_type")):
            if field in product:
                setattr(target, key, product[field])
        for item in media or ():
            if item["mediaContentType"] != "IMAGE":
                return {"product": None, "userErrors": [
                    {"field": ["media"], "message": "Only images are supported here"}]}
            upload = self.emu.upload_for(item["originalSource"])
            data = upload.data if upload and upload.data else b""
            filename = upload.filename if upload else "unknown"
            created = self.emu._new_media(self.shop, filename, data,
                                          upload.mime_type if upload else "", item.get("alt")
                                          or "")
            created.product_ids.append(target.id)
            target.media_ids.append(created.id)
        target.updated_at = st.now_iso()
        self.emu.notify(self.shop.domain, "products/update", target.id)
        return {"product": self.product_obj(target), "userErrors": []}

    def r_productReorderMedia(self, info, id, moves):
        target = self.shop.products.get(st.gid_number(id))
        if target is None:
            return {"job": None, "userErrors": [], "mediaUserErrors": [
                {"field": ["id"], "message": "Product does not exist",
                 "code": "PRODUCT_DOES_NOT_EXIST"}]}
        for move in moves:
            number = st.gid_number(move["id"])
            if number not in target.media_ids:
                return {"job": None, "userErrors": [], "mediaUserErrors": [
                    {"field": ["moves"], "message": "Media does not exist",
                     "code": "MEDIA_DOES_NOT_EXIST"}]}
            target.media_ids.remove(number)
            target.media_ids.insert(min(int(move["newPosition"]), len(target.media_ids)), number)
        target.updated_at = st.now_iso()
        self.emu.notify(self.shop.domain, "products/update", target.id)
        return {"job": {"id": st.gid("Job", uuid.uuid4().int % 10**12), "done": False},
                "userErrors": [], "mediaUserErrors": []}

    def r_fileUpdate(self, info, files):
        """Alt text and product references. Shopify refuses to update a file that is not
        READY (FilesErrorCode NON_READY_STATE): nothing of the request is applied then."""
        found, errors = [], []
        for n, item in enumerate(files):
            media = self.shop.media.get(st.gid_number(item["id"]))
            if media is None:
                errors.append({"field": ["files", str(n), "id"], "message": "File does not exist",
                               "code": "FILE_DOES_NOT_EXIST"})
            elif media.status(self.clock) != "READY":
                errors.append({"field": ["files", str(n), "id"],
                               "message": "Non-ready files cannot be updated.",
                               "code": "NON_READY_STATE"})
            else:
                found.append((item, media))
        if any(e["code"] == "NON_READY_STATE" for e in errors):
            return {"files": [], "userErrors": errors}
        out, touched = [], set()
        for item, media in found:
            if item.get("alt") is not None:
                media.alt = item["alt"]
            for ref in item.get("referencesToRemove") or ():
                product = self.shop.products.get(st.gid_number(ref))
                if product and media.id in product.media_ids:
                    product.media_gone(media.id)
                    if product.id in media.product_ids:
                        media.product_ids.remove(product.id)
                    touched.add(product.id)
            for ref in item.get("referencesToAdd") or ():
                product = self.shop.products.get(st.gid_number(ref))
                if product and media.id not in product.media_ids:
                    product.media_ids.append(media.id)
                    media.product_ids.append(product.id)
                    touched.add(product.id)
            out.append(self.media_obj(media))
        self._touched(touched)
        return {"files": out, "userErrors": errors}

    def r_fileDelete(self, info, fileIds):
        """Delete files and their references on products. A file Shopify is still processing
        is refused (the mutation rejects files other operations are processing) and an
        unknown id answers FILE_DOES_NOT_EXIST; nothing is deleted when any id is refused."""
        targets, errors = [], []
        for n, file_id in enumerate(fileIds):
            media = self.shop.media.get(st.gid_number(file_id))
            if media is None:
                errors.append({"field": ["fileIds", str(n)], "code": "FILE_DOES_NOT_EXIST",
                               "message": f"File id {file_id} does not exist."})
            elif media.status(self.clock) in ("UPLOADED", "PROCESSING"):
                errors.append({"field": ["fileIds", str(n)], "code": "FILE_LOCKED",
                               "message": "The file is being processed; try again later."})
            else:
                targets.append(media)
        if errors:
            return {"deletedFileIds": None, "userErrors": errors}
        touched = set()
        for media in targets:
            for product_id in media.product_ids:
                product = self.shop.products.get(product_id)
                if product and media.id in product.media_ids:
                    product.media_gone(media.id)
                    touched.add(product_id)
            del self.shop.media[media.id]
        self._touched(touched)
        return {"deletedFileIds": [st.gid("MediaImage", m.id) for m in targets],
                "userErrors": []}

    def _touched(self, product_ids) -> None:
        for product_id in product_ids:
            self.shop.products[product_id].updated_at = st.now_iso()
            self.emu.notify(self.shop.domain, "products/update", product_id)

    def r_bulkOperationRunQuery(self, info, query, groupObjects):
        running = [op for op in self.shop.bulk.values() if op.status(self.clock) == "RUNNING"]
        if len(running) >= 5:
            return {"bulkOperation": None, "userErrors": [
                {"field": None, "message": "Too many bulk operations", "code": "LIMIT_REACHED"}]}
        try:
            op = self.emu.run_bulk(self.shop, query)
        except GraphQLError as exc:
            return {"bulkOperation": None,
                    "userErrors": [{"field": ["query"], "message": exc.message,
                                    "code": "INVALID"}]}
        return {"bulkOperation": self.bulk_obj(op), "userErrors": []}


_MEDIA_ERRORS = {
    "UNSUPPORTED_IMAGE_FILE_TYPE": "Image file type is not supported.",
    "GENERIC_FILE_DOWNLOAD_FAILURE": "File could not be downloaded.",
    "IMAGE_PROCESSING_FAILURE": "Image could not be processed.",
}


def connection(items: list, first, last, after, unbounded: bool) -> dict:
    start = int(base64.b64decode(after).decode()) + 1 if after else 0
    end = len(items)
    if not unbounded:
        if first is not None:
            end = min(end, start + first)
        elif last is not None:
            start = max(start, end - last)
    window = items[start:end]
    cursors = [base64.b64encode(str(n).encode()).decode() for n in range(start, end)]
    return {
        "nodes": window,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, window, strict=True)],
        "pageInfo": {"hasNextPage": end < len(items), "hasPreviousPage": start > 0,
                     "startCursor": cursors[0] if cursors else None,
                     "endCursor": cursors[-1] if cursors else None},
    }


def items(connection) -> list:
    if not isinstance(connection, dict):
        return []
    if connection.get("edges") is not None:
        return [e["node"] for e in connection["edges"]]
    return list(connection.get("nodes") or [])


def flatten(node: dict, parent_id: str | None, lines: list) -> None:
    row, children = {}, []
    for key, value in node.items():
        if isinstance(value, dict) and ("edges" in value or "nodes" in value):
            children.append(value)
        else:
            row[key] = value
    if parent_id:
        row["__parentId"] = parent_id
    lines.append(row)
    for connection in children:
        for child in items(connection):
            flatten(child, node.get("id"), lines)


def parse_time(value: str) -> datetime:
    value = value.replace("Z", "+00:00")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

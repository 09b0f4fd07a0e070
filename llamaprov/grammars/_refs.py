"""Where each subschema of a document is (base URI, JSON pointer) and what a ``$ref`` names."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from ..errors import UnsupportedSchemaError
from ._keywords import SCHEMA_DICTS, SCHEMA_LISTS, SCHEMA_SINGLE, check_keyword_values, pointer

# Base URI of a schema without an absolute $id (never fetched: remote references are refused).
DEFAULT_BASE = "https://llamaprov.invalid/schema.json"


class SchemaIndex:
    """The ``$id``/``$anchor`` targets, base URIs and pointers of the indexed schemas.

    Indexing also checks every keyword value's JSON type (:func:`check_keyword_values`), so the
    compiler reads each indexed schema as the specification says it is.
    """

    def __init__(self, root: Any) -> None:
        self.ids: dict[str, Any] = {DEFAULT_BASE: root}
        self.anchors: dict[str, Any] = {}
        self.bases: dict[int, str] = {}
        self.pointers: dict[int, str] = {}
        self.index(root, DEFAULT_BASE, "#")

    def base_of(self, schema: Any, default: str) -> str:
        """The base URI ``schema`` was indexed under, else ``default``."""
        return self.bases.get(id(schema), default)

    def index(self, schema: Any, base: str, ptr: str) -> None:
        """Record ``schema`` (at ``ptr``, resolving against ``base``) and its subschemas."""
        if isinstance(schema, list):
            for i, s in enumerate(schema):
                self.index(s, base, pointer(ptr, i))
            return
        if not isinstance(schema, dict):
            return
        check_keyword_values(schema, ptr)
        sid = schema.get("$id", schema.get("id"))
        if isinstance(sid, str):
            full = urljoin(base, sid)
            doc, frag = urldefrag(full)
            if frag:
                self.anchors[full] = schema
            else:
                base = doc
                self.ids.setdefault(doc, schema)
        anchor = schema.get("$anchor")
        if isinstance(anchor, str):
            self.anchors[base + "#" + anchor] = schema
        self.bases[id(schema)] = base
        self.pointers[id(schema)] = ptr
        for key, sub in schema.items():
            if key in SCHEMA_DICTS and isinstance(sub, dict):
                for k, v in sub.items():
                    self.index(v, base, pointer(ptr, key, k))
            elif (key in SCHEMA_LISTS and isinstance(sub, list)) or key in SCHEMA_SINGLE or key == "items":
                self.index(sub, base, pointer(ptr, key))
            elif key == "dependencies" and isinstance(sub, dict):
                for k, v in sub.items():
                    if isinstance(v, dict):
                        self.index(v, base, pointer(ptr, key, k))

    def resolve(self, ref: str, ptr: str, base: str) -> tuple[Any, str, str]:
        """The schema ``ref`` (written at ``ptr``) names, with its base URI and pointer."""
        full = urljoin(base, ref)
        doc, frag = urldefrag(full)
        target = self.ids.get(doc)
        if target is None:
            raise UnsupportedSchemaError("$ref", ptr, f"cannot resolve remote reference {ref!r}")
        if frag.startswith("/") or frag == "":
            node = target
            for raw in frag.split("/")[1:]:
                part = unquote(raw).replace("~1", "/").replace("~0", "~")
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    raise UnsupportedSchemaError("$ref", ptr, f"unresolvable reference {ref!r}")
            target = node
        else:
            target = self.anchors.get(full)
            if target is None:
                raise UnsupportedSchemaError("$ref", ptr, f"unresolvable reference {ref!r}")
        if isinstance(target, dict) and id(target) not in self.pointers:
            self.index(target, doc, ref)  # not below a schema keyword: check it like the others
        tbase = self.bases.get(id(target), doc)
        tptr = self.pointers.get(id(target), ref)
        return target, tbase, tptr

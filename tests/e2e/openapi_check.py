"""Every REST reply the end-to-end tests receive, checked against the server's
OpenAPI document (src/api/http/openapi.json, the file compiled into the binary).

A reply passes when its route documents its status, its Content-Type is one
the document lists for that status, and a JSON body validates against the
schema there (Draft 2020-12, as OpenAPI 3.1 uses; Debian's python3-jsonschema).
Streams are checked document by document as they are read (StreamItems). A
path no route has must answer 404 (405 for a method its path lacks; 401
before either when the token is missing, 400 for a malformed request), as the
server's router does for every path, with the shared Error body.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

try:
    import jsonschema
except ImportError as e:  # the e2e suite cannot prove the document without it
    raise ImportError("the end-to-end tests validate replies with python3-jsonschema: "
                      "run scripts/install-deps.sh (or apt-get install python3-jsonschema)") from e

DOCUMENT = Path(__file__).resolve().parents[2] / "src" / "api" / "http" / "openapi.json"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class OpenApiMismatch(AssertionError):
    pass


class _Route:
    def __init__(self, template, item, document):
        self.template = template
        self.item = item
        self.segments = [s for s in template.split("/") if s]
        last = self.segments[-1] if self.segments else ""
        self.rest = last.startswith("{") and any(
            p.get("x-multi-segment") for p in self._path_parameters(document) if "{" + p["name"] + "}" == last)

    def _path_parameters(self, document):
        for operation in (self.item[m] for m in _METHODS if m in self.item):
            for parameter in operation.get("parameters", []):
                parameter = _resolve(document, parameter)
                if parameter.get("in") == "path":
                    yield parameter

    def matches(self, segments):
        if self.rest:
            if len(segments) < len(self.segments):
                return False
        elif len(segments) != len(self.segments):
            return False
        return all(t.startswith("{") or t == s for t, s in zip(self.segments, segments))


def _resolve(document, value):
    """The object a {"$ref": "#/..."} names, or value itself."""
    while isinstance(value, dict) and "$ref" in value:
        node = document
        for key in value["$ref"][2:].split("/"):
            node = node[key]
        value = node
    return value


def _route_path(target):
    """The path the router sees: no query, /v1 folded away, empty segments dropped."""
    path = urlsplit(target).path
    if path == "/v1":
        path = "/"
    elif path.startswith("/v1/"):
        path = path[3:]
    return [s for s in path.split("/") if s]


class OpenApi:
    def __init__(self, document):
        self.document = document
        for name, schema in document["components"]["schemas"].items():
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                raise OpenApiMismatch(f"{DOCUMENT}: schema {name} is not valid JSON Schema: {e.message}") from None
        self.resolver = jsonschema.RefResolver.from_schema(document)
        self.routes = [_Route(t, item, document) for t, item in document["paths"].items()]
        self._validators = {}

    @classmethod
    def load(cls):
        return cls(json.loads(DOCUMENT.read_text()))

    def check(self, method, target, status, headers, body, has_body=True):
        """Raises OpenApiMismatch unless the reply is what the document says.

        headers: lower-case keys. has_body=False for a stream whose body the
        caller reads itself: status and Content-Type are checked here, and the
        returned StreamItems checks each document or event as it is read."""
        method = method.lower()
        what = f"{method.upper()} {target} answered {status}"
        segments = _route_path(target)
        matched = [r for r in self.routes if r.matches(segments)]
        route = next((r for r in matched if method in r.item or (method == "head" and "get" in r.item)), None)
        if route is None:
            expected = ("405", "401") if matched else ("404", "401")
            if str(status) not in expected and status != 400:
                raise OpenApiMismatch(f"{what}: no documented route has this {'method' if matched else 'path'}, "
                                      f"so the server must answer {' or '.join(expected)}")
            if has_body:
                self._check_json(what, self.document["components"]["schemas"]["Error"], headers, body)
            return StreamItems(self, what, {})
        operation = route.item[method if method in route.item else "get"]
        label = f"{method.upper()} {route.template}"
        response = operation["responses"].get(str(status))
        if response is None:
            raise OpenApiMismatch(f"{what}: status {status} is not documented for {label} "
                                  f"(documented: {', '.join(operation['responses'])}); body: {_excerpt(body)}")
        response = _resolve(self.document, response)
        content = response.get("content")
        if not content or method == "head":
            if has_body and method != "head" and body not in ("", b"", None):
                raise OpenApiMismatch(f"{what}: {label} documents no body for {status}, got {_excerpt(body)}")
            return StreamItems(self, what, {})
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in content:
            raise OpenApiMismatch(f"{what}: Content-Type {ctype!r} is not documented for {label} {status} "
                                  f"(documented: {', '.join(content)})")
        if ctype == "application/json" and has_body:
            self._check_json(f"{what} ({label})", content[ctype]["schema"], headers, body)
        return StreamItems(self, f"{what} ({label})", content[ctype])

    def _check_json(self, what, schema, headers, body):
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json" or isinstance(body, str):
            raise OpenApiMismatch(f"{what}: expected a JSON body, got {ctype!r}: {_excerpt(body)}")
        self.validate(what, schema, body)

    def validate(self, what, schema, value):
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
            self._validators[id(schema)] = validator
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "body" + "".join(f"[{p!r}]" for p in error.absolute_path)
            raise OpenApiMismatch(f"{what}: the body does not match the OpenAPI document ({DOCUMENT.name}): "
                                  f"{where}: {error.message}\nbody: {_excerpt(value)}")


class StreamItems:
    """The documents of a stream, checked as they are read: NDJSON lines
    against the media type's x-steward-first-line / x-steward-next-lines,
    Server-Sent Events' data against x-steward-events by event name."""

    def __init__(self, api, what, media):
        self.api, self.what, self.media = api, what, media
        self.lines = 0

    def line(self, document):
        key = "x-steward-first-line" if self.lines == 0 else "x-steward-next-lines"
        self.lines += 1
        if key in self.media:
            self.api.validate(f"{self.what}, line {self.lines}", self.media[key], document)

    def event(self, name, data):
        events = self.media.get("x-steward-events")
        if events is None:
            return
        if name not in events:
            raise OpenApiMismatch(f"{self.what}: event {name!r} is not documented (documented: {', '.join(events)})")
        self.api.validate(f"{self.what}, event {name!r}", events[name], data)


def _excerpt(body, limit=800):
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    text = body if isinstance(body, str) else json.dumps(body)
    return text if len(text) <= limit else text[:limit] + "..."


_openapi = None


def openapi():
    """The document, loaded (and its schemas checked) once per test process."""
    global _openapi
    if _openapi is None:
        _openapi = OpenApi.load()
    return _openapi

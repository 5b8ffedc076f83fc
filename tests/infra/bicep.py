"""A parser and static evaluator for the subset of Bicep that ``infra/`` uses.

Why not grep: the binding test must prove that the names the app binds to are the names of resources
the template *creates*, in the account or namespace its connection settings *point at*. That takes
the template's structure: resource declarations and their parents, module parameters and outputs,
loops, conditions, string interpolation and the app-settings list built from all of them.

How: a tokenizer (strings with ``${}`` interpolation, comments, newlines as separators), a
recursive-descent parser for declarations (``targetScope``, ``param``, ``var``, ``resource``,
``module``, ``output``, decorators) and expressions (objects, arrays, ``for`` and ``if`` bodies,
lambdas, calls, member and index access, unary/binary/ternary operators), and an evaluator that
deploys ``main.bicep`` on paper: parameters get their values or defaults, modules are evaluated with
the parameters passed to them, and every resource instance is recorded with its full name
(``account/default/queue``), type, condition and evaluated body.

Values that only exist at deployment time (``uniqueString(...)``, ``storage.properties.primaryEndpoints.blob``,
a managed identity's client id) become :class:`Opaque` values whose key names their origin, e.g.
``ref(Microsoft.Storage/storageAccounts:stcvdsr${uniqueString(...)}).properties.primaryEndpoints.queue``;
strings that mix text and such values become :class:`Template`. Equal origins give equal keys, so a
test can check that a setting refers to a given resource.

Anything outside the subset (``import``, ``type``, ``func``, unknown functions) raises
:class:`BicepError`: the test then fails loudly instead of passing on a misread template.

Why not pycep-parser (which checkov pulls in, and which installs beside these tests): measured on this
``infra/`` (pycep-parser 0.5.1; the grammar of 0.7.1 is the same), it has no operator precedence
(``a == 'b' ? x : y`` comes back as ``a == ('b' ? x : y)``), drops parentheses (so the mistake cannot
be undone from its output), nests member access and unary operators wrongly (``a.b == c`` as
``a.(b == c)``), leaves ``${}`` interpolation and escapes unparsed, and renames and reorders function
arguments. Evaluating its output would need an expression parser again, no smaller than this one, on
an undocumented grammar; and a silently misread condition is what this module exists to prevent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, cast

# ---------------------------------------------------------------------------------------------------
# Values


class BicepError(Exception):
    """The template uses something this evaluator does not understand, or is malformed."""


@dataclass(frozen=True)
class Opaque:
    """A value known only at deployment time, named by where it comes from."""

    key: str

    def __str__(self) -> str:
        return "${" + self.key + "}"


@dataclass(frozen=True)
class Template:
    """A string whose parts are partly :class:`Opaque` (an interpolation of runtime values)."""

    parts: tuple[str | Opaque, ...]

    def __str__(self) -> str:
        return "".join(str(part) for part in self.parts)

    @property
    def opaque_keys(self) -> tuple[str, ...]:
        return tuple(part.key for part in self.parts if isinstance(part, Opaque))


@dataclass(frozen=True)
class ResourceRef:
    """A symbolic reference to one resource instance."""

    instance: ResourceInstance


@dataclass(frozen=True)
class ModuleRef:
    instance: ModuleInstance


@dataclass(frozen=True)
class Lambda:
    params: tuple[str, ...]
    body: Node
    scope: Scope


Value: TypeAlias = (
    bool | int | str | list["Value"] | dict[str, "Value"] | Opaque | Template | ResourceRef | ModuleRef | Lambda | None
)


def render(value: Value) -> str:
    """A canonical text for any value (used in opaque keys and for matching)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Opaque):
        return value.key
    if isinstance(value, Template):
        return str(value)
    if isinstance(value, ResourceRef):
        return f"ref({value.instance.type}:{render(value.instance.full_name)})"
    if isinstance(value, ModuleRef):
        return f"module({value.instance.path.name}:{value.instance.symbol})"
    if isinstance(value, Lambda):
        return "<lambda>"
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    return "{" + ", ".join(f"{key}: {render(item)}" for key, item in value.items()) + "}"


def text(value: Value) -> str:
    """The string value of a setting or name: plain strings as they are, templates rendered."""
    if isinstance(value, (str, Opaque, Template)):
        return str(value)
    raise BicepError(f"expected a string, got {render(value)}")


def is_known(value: Value) -> bool:
    return not isinstance(value, (Opaque, Template))


def mentions(value: Value, key_fragment: str) -> bool:
    """Whether an opaque value (or a template's opaque part) names ``key_fragment``."""
    if isinstance(value, Opaque):
        return key_fragment in value.key
    if isinstance(value, Template):
        return any(key_fragment in key for key in value.opaque_keys)
    return False


def _concat_strings(parts: Sequence[Value]) -> str | Template:
    merged: list[str | Opaque] = []
    for part in parts:
        pieces: Sequence[str | Opaque]
        if isinstance(part, Template):
            pieces = part.parts
        elif isinstance(part, Opaque):
            pieces = [part]
        elif isinstance(part, (ResourceRef, ModuleRef, Lambda, list, dict)):
            pieces = [Opaque(render(part))]
        else:
            pieces = [render(part)]
        for piece in pieces:
            if isinstance(piece, str) and merged and isinstance(merged[-1], str):
                merged[-1] = merged[-1] + piece
            elif piece != "":
                merged.append(piece)
    if all(isinstance(piece, str) for piece in merged):
        return "".join(cast(list[str], merged))
    return Template(tuple(merged))


# ---------------------------------------------------------------------------------------------------
# Tokens

_PUNCTUATION = [
    "...", "=>", "==", "!=", ">=", "<=", "&&", "||", "??", ".?",
    "{", "}", "[", "]", "(", ")", ",", ":", ".", "?", "!", "=", ">", "<", "+", "-", "*", "/", "%", "@",
]  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+")
_ESCAPES = {"'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, string, punct, newline, eof
    value: Any
    line: int


def tokenize(source: str, line: int = 1) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c in " \t\r":
            i += 1
        elif c == "\n":
            tokens.append(Token("newline", "\n", line))
            line += 1
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise BicepError(f"line {line}: unterminated comment")
            line += source.count("\n", i, end)
            i = end + 2
        elif source.startswith("'''", i):
            end = source.find("'''", i + 3)
            if end < 0:
                raise BicepError(f"line {line}: unterminated multi-line string")
            body = source[i + 3 : end]
            tokens.append(Token("string", [body.removeprefix("\n")], line))
            line += body.count("\n")
            i = end + 3
        elif c == "'":
            parts, i, line = _lex_string(source, i + 1, line)
            tokens.append(Token("string", parts, line))
        elif _IDENT.match(source, i):
            match = _IDENT.match(source, i)
            assert match is not None
            tokens.append(Token("ident", match.group(), line))
            i = match.end()
        elif _NUMBER.match(source, i):
            match = _NUMBER.match(source, i)
            assert match is not None
            tokens.append(Token("number", int(match.group()), line))
            i = match.end()
        else:
            for punct in _PUNCTUATION:
                if source.startswith(punct, i):
                    tokens.append(Token("punct", punct, line))
                    i += len(punct)
                    break
            else:
                raise BicepError(f"line {line}: unexpected character {c!r}")
    tokens.append(Token("eof", None, line))
    return tokens


def _lex_string(source: str, i: int, line: int) -> tuple[list[str | list[Token]], int, int]:
    """A single-quoted string from just after its quote: literal parts and interpolations (token lists)."""
    parts: list[str | list[Token]] = []
    literal: list[str] = []
    while True:
        if i >= len(source):
            raise BicepError(f"line {line}: unterminated string")
        c = source[i]
        if c == "'":
            break
        if c == "\n":
            raise BicepError(f"line {line}: newline in a string")
        if c == "\\":
            nxt = source[i + 1 : i + 2]
            if nxt in _ESCAPES:
                literal.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u":
                end = source.index("}", i)
                literal.append(chr(int(source[i + 3 : end], 16)))
                i = end + 1
                continue
            raise BicepError(f"line {line}: unknown escape \\{nxt}")
        if source.startswith("${", i):
            end = _matching_brace(source, i + 2, line)
            parts.append("".join(literal))
            literal = []
            parts.append(tokenize(source[i + 2 : end], line)[:-1])
            i = end + 1
            continue
        literal.append(c)
        i += 1
    parts.append("".join(literal))
    return [part for part in parts if part != ""], i + 1, line


def _matching_brace(source: str, i: int, line: int) -> int:
    depth = 0
    while i < len(source):
        c = source[i]
        if c == "'":
            _, i, _ = _lex_string(source, i + 1, line)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise BicepError(f"line {line}: unterminated interpolation")


# ---------------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Node:
    kind: str
    line: int
    value: Any = None
    children: tuple[Any, ...] = ()


@dataclass
class Declaration:
    keyword: str  # param, var, resource, module, output, targetScope
    name: str
    line: int
    type: str | None = None  # resource type@version, module path, param/output type
    value: Node | None = None  # default, value, or body (object / if / for)
    existing: bool = False
    decorators: list[Node] = field(default_factory=list)


class Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    # -- token helpers
    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        return token.kind == kind and (value is None or token.value == value)

    def accept(self, kind: str, value: Any = None) -> Token | None:
        if self.at(kind, value):
            return self.next()
        return None

    def expect(self, kind: str, value: Any = None) -> Token:
        token = self.peek()
        if not self.at(kind, value):
            wanted = value if value is not None else kind
            raise BicepError(f"line {token.line}: expected {wanted!r}, found {token.value!r}")
        return self.next()

    def skip_newlines(self) -> None:
        while self.accept("newline"):
            pass

    # -- declarations
    def program(self) -> list[Declaration]:
        declarations: list[Declaration] = []
        decorators: list[Node] = []
        self.skip_newlines()
        while not self.at("eof"):
            if self.accept("punct", "@"):
                decorators.append(self.expression())
                self.skip_newlines()
                continue
            declaration = self.declaration()
            declaration.decorators = decorators
            decorators = []
            declarations.append(declaration)
            if not self.at("eof"):
                self.expect("newline")
            self.skip_newlines()
        return declarations

    def declaration(self) -> Declaration:
        token = self.expect("ident")
        keyword = token.value
        if keyword == "targetScope":
            self.expect("punct", "=")
            return Declaration("targetScope", "targetScope", token.line, value=self.expression())
        if keyword == "param":
            name = self.expect("ident").value
            type_ = self.type_expression()
            default = self.expression() if self.accept("punct", "=") else None
            return Declaration("param", name, token.line, type=type_, value=default)
        if keyword == "var":
            name = self.expect("ident").value
            self.expect("punct", "=")
            return Declaration("var", name, token.line, value=self.expression())
        if keyword == "output":
            name = self.expect("ident").value
            type_ = self.type_expression()
            self.expect("punct", "=")
            return Declaration("output", name, token.line, type=type_, value=self.expression())
        if keyword in ("resource", "module"):
            name = self.expect("ident").value
            type_ = self.string_literal()
            existing = bool(self.accept("ident", "existing"))
            self.expect("punct", "=")
            return Declaration(keyword, name, token.line, type=type_, value=self.body(), existing=existing)
        raise BicepError(f"line {token.line}: unsupported declaration {keyword!r}")

    def type_expression(self) -> str:
        token = self.expect("ident")
        type_ = str(token.value)
        while self.accept("punct", "["):
            self.expect("punct", "]")
            type_ += "[]"
        if self.accept("punct", "?"):
            type_ += "?"
        return type_

    def string_literal(self) -> str:
        token = self.expect("string")
        parts = token.value
        if len(parts) != 1 or not isinstance(parts[0], str):
            raise BicepError(f"line {token.line}: expected a plain string")
        return str(parts[0])

    def body(self) -> Node:
        """A resource or module body: an object, ``if (cond) {…}`` or ``[for … : …]``."""
        line = self.peek().line
        if self.accept("ident", "if"):
            self.expect("punct", "(")
            condition = self.expression()
            self.expect("punct", ")")
            return Node("if", line, children=(condition, self.object()))
        if self.at("punct", "["):
            return self.array()
        return self.object()

    # -- expressions
    def expression(self) -> Node:
        if self.peek().kind == "ident" and self.peek(1).kind == "punct" and self.peek(1).value == "=>":
            name = self.next().value
            self.next()
            return Node("lambda", self.peek().line, value=(name,), children=(self.expression(),))
        condition = self.coalesce()
        if self.accept("punct", "?"):
            self.skip_newlines()
            then = self.expression()
            self.skip_newlines()
            self.expect("punct", ":")
            self.skip_newlines()
            otherwise = self.expression()
            return Node("ternary", condition.line, children=(condition, then, otherwise))
        return condition

    def _binary(self, operators: tuple[str, ...], operand: Callable[[], Node]) -> Node:
        left = operand()
        while self.peek().kind == "punct" and self.peek().value in operators:
            operator = self.next().value
            right = operand()
            left = Node("binary", left.line, value=operator, children=(left, right))
        return left

    def coalesce(self) -> Node:
        return self._binary(("??",), self.logical_or)

    def logical_or(self) -> Node:
        return self._binary(("||",), self.logical_and)

    def logical_and(self) -> Node:
        return self._binary(("&&",), self.equality)

    def equality(self) -> Node:
        return self._binary(("==", "!="), self.comparison)

    def comparison(self) -> Node:
        return self._binary((">", "<", ">=", "<="), self.additive)

    def additive(self) -> Node:
        return self._binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Node:
        return self._binary(("*", "/", "%"), self.unary)

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "punct" and token.value in ("!", "-"):
            self.next()
            return Node("unary", token.line, value=token.value, children=(self.unary(),))
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.accept("punct", "."):
                name = self.expect("ident").value
                if self.at("punct", "("):
                    node = Node("call", node.line, value=name, children=(node, *self.arguments()))
                else:
                    node = Node("member", node.line, value=name, children=(node,))
            elif self.accept("punct", ".?"):
                node = Node("member", node.line, value=self.expect("ident").value, children=(node,))
            elif self.at("punct", "["):
                self.next()
                index = self.expression()
                self.expect("punct", "]")
                node = Node("index", node.line, children=(node, index))
            else:
                return node

    def arguments(self) -> list[Node]:
        self.expect("punct", "(")
        arguments: list[Node] = []
        self.skip_newlines()
        while not self.accept("punct", ")"):
            arguments.append(self.expression())
            self.skip_newlines()
            if not self.at("punct", ")"):
                self.expect("punct", ",")
                self.skip_newlines()
        return arguments

    def primary(self) -> Node:
        token = self.peek()
        if token.kind == "number":
            self.next()
            return Node("literal", token.line, value=token.value)
        if token.kind == "string":
            self.next()
            parts: list[Any] = []
            for part in token.value:
                parts.append(part if isinstance(part, str) else Parser([*part, Token("eof", None, token.line)]).whole())
            return Node("string", token.line, children=tuple(parts))
        if token.kind == "ident":
            self.next()
            if token.value in ("true", "false"):
                return Node("literal", token.line, value=token.value == "true")
            if token.value == "null":
                return Node("literal", token.line, value=None)
            if self.at("punct", "("):
                return Node("call", token.line, value=token.value, children=(None, *self.arguments()))
            return Node("name", token.line, value=token.value)
        if token.kind == "punct" and token.value == "(":
            return self.parenthesised()
        if token.kind == "punct" and token.value == "{":
            return self.object()
        if token.kind == "punct" and token.value == "[":
            return self.array()
        raise BicepError(f"line {token.line}: unexpected {token.value!r}")

    def whole(self) -> Node:
        node = self.expression()
        self.expect("eof")
        return node

    def parenthesised(self) -> Node:
        start = self.pos
        self.expect("punct", "(")
        # A lambda with a parenthesised parameter list: (a, b) => body
        names: list[str] = []
        while self.at("ident") and self.peek(1).kind == "punct" and self.peek(1).value in (",", ")"):
            names.append(self.next().value)
            if self.accept("punct", ")"):
                if self.accept("punct", "=>"):
                    return Node("lambda", self.peek().line, value=tuple(names), children=(self.expression(),))
                break
            self.next()
        self.pos = start
        self.expect("punct", "(")
        self.skip_newlines()
        node = self.expression()
        self.skip_newlines()
        self.expect("punct", ")")
        return node

    def object(self) -> Node:
        start = self.expect("punct", "{")
        entries: list[tuple[Node, Node]] = []
        self.skip_newlines()
        while not self.accept("punct", "}"):
            key_token = self.peek()
            key: Node
            if key_token.kind == "ident":
                self.next()
                key = Node("literal", key_token.line, value=key_token.value)
            else:
                key = self.primary()
                if key.kind != "string":
                    raise BicepError(f"line {key_token.line}: bad object key")
            self.expect("punct", ":")
            entries.append((key, self.expression()))
            if not self.accept("punct", ",") and not self.at("punct", "}"):
                self.expect("newline")
            self.skip_newlines()
        return Node("object", start.line, children=tuple(entries))

    def array(self) -> Node:
        start = self.expect("punct", "[")
        self.skip_newlines()
        if self.accept("ident", "for"):
            if self.accept("punct", "("):
                item = self.expect("ident").value
                self.expect("punct", ",")
                index: str | None = self.expect("ident").value
                self.expect("punct", ")")
            else:
                item, index = self.expect("ident").value, None
            self.expect("ident", "in")
            source = self.expression()
            self.expect("punct", ":")
            self.skip_newlines()
            if self.accept("ident", "if"):
                self.expect("punct", "(")
                condition: Node | None = self.expression()
                self.expect("punct", ")")
            else:
                condition = None
            body = self.expression()
            self.skip_newlines()
            self.expect("punct", "]")
            return Node("for", start.line, value=(item, index), children=(source, condition, body))
        items: list[Node] = []
        while not self.accept("punct", "]"):
            items.append(self.expression())
            if not self.accept("punct", ",") and not self.at("punct", "]"):
                self.expect("newline")
            self.skip_newlines()
        return Node("array", start.line, children=tuple(items))


def parse(source: str) -> list[Declaration]:
    return Parser(tokenize(source)).program()


# ---------------------------------------------------------------------------------------------------
# Evaluation


@dataclass(eq=False)
class ResourceInstance:
    symbol: str
    type: str  # without the API version
    api_version: str
    full_name: Value
    existing: bool
    condition: Value  # True, or an Opaque condition
    body: dict[str, Value]
    path: Path
    scope_value: Value = None

    def __hash__(self) -> int:
        return id(self)

    @property
    def properties(self) -> dict[str, Value]:
        properties = self.body.get("properties") or {}
        assert isinstance(properties, dict)
        return properties


@dataclass(eq=False)
class ModuleInstance:
    symbol: str
    path: Path
    params: dict[str, Value]
    condition: Value
    scope_value: Value
    result: Deployment

    def __hash__(self) -> int:
        return id(self)


@dataclass
class Deployment:
    """One evaluated Bicep file: its parameters, resources, modules and outputs."""

    path: Path
    params: dict[str, Value]
    resources: list[ResourceInstance]
    modules: list[ModuleInstance]
    outputs: dict[str, Value]
    declarations: dict[str, Declaration]

    def all_resources(self, *, include_existing: bool = False) -> Iterator[ResourceInstance]:
        """Every resource of this file and, recursively, of its modules."""
        for resource in self.resources:
            if include_existing or not resource.existing:
                yield resource
        for module in self.modules:
            yield from module.result.all_resources(include_existing=include_existing)

    def all_modules(self) -> Iterator[ModuleInstance]:
        for module in self.modules:
            yield module
            yield from module.result.all_modules()


class Scope:
    """Names visible in one file (params, vars, resources, modules) plus loop and lambda variables."""

    def __init__(self, evaluator: _FileEvaluator, locals_: Mapping[str, Value] | None = None) -> None:
        self.evaluator = evaluator
        self.locals = dict(locals_ or {})

    def child(self, **names: Value) -> Scope:
        return Scope(self.evaluator, {**self.locals, **names})

    def lookup(self, name: str) -> Value:
        if name in self.locals:
            return self.locals[name]
        return self.evaluator.symbol(name)


class _FileEvaluator:
    def __init__(self, path: Path, params: Mapping[str, Value]) -> None:
        self.path = path
        parsed = parse(path.read_text(encoding="utf-8"))
        # Outputs have their own namespace (an output may share a parameter's name).
        self.declarations = {d.name: d for d in parsed if d.keyword != "output"}
        self.output_declarations = {d.name: d for d in parsed if d.keyword == "output"}
        unknown = set(params) - {d.name for d in self.declarations.values() if d.keyword == "param"}
        if unknown:
            raise BicepError(f"{path.name}: no such parameter(s): {sorted(unknown)}")
        self.given = dict(params)
        self.values: dict[str, Value] = {}
        self.resource_instances: dict[str, list[ResourceInstance]] = {}
        self.module_instances: dict[str, list[ModuleInstance]] = {}
        self.in_progress: set[str] = set()
        self.scope = Scope(self)

    def run(self) -> Deployment:
        params: dict[str, Value] = {}
        outputs: dict[str, Value] = {}
        for name, declaration in self.declarations.items():
            if declaration.keyword == "param":
                params[name] = self.symbol(name)
            elif declaration.keyword in ("resource", "module", "var"):
                self.symbol(name)
        for name, declaration in self.output_declarations.items():
            assert declaration.value is not None
            outputs[name] = self.evaluate(declaration.value, self.scope)
        resources = [r for name in self.declarations for r in self.resource_instances.get(name, [])]
        modules = [m for name in self.declarations for m in self.module_instances.get(name, [])]
        return Deployment(self.path, params, resources, modules, outputs, {**self.declarations})

    # -- symbols
    def symbol(self, name: str) -> Value:
        if name in self.values:
            return self.values[name]
        declaration = self.declarations.get(name)
        if declaration is None:
            raise BicepError(f"{self.path.name}: unknown name {name!r}")
        if name in self.in_progress:
            raise BicepError(f"{self.path.name}: {name!r} refers to itself")
        self.in_progress.add(name)
        try:
            value = self._declare(declaration)
        finally:
            self.in_progress.discard(name)
        self.values[name] = value
        return value

    def _declare(self, declaration: Declaration) -> Value:
        if declaration.keyword == "param":
            if declaration.name in self.given:
                return self.given[declaration.name]
            if declaration.value is not None:
                return self.evaluate(declaration.value, self.scope)
            return Opaque(f"param:{declaration.name}")
        if declaration.keyword == "var":
            assert declaration.value is not None
            return self.evaluate(declaration.value, self.scope)
        if declaration.keyword == "resource":
            instances = self._resources(declaration)
            self.resource_instances[declaration.name] = instances
            refs: list[Value] = [ResourceRef(instance) for instance in instances]
            return refs if self._is_loop(declaration) else (refs[0] if refs else None)
        if declaration.keyword == "module":
            modules = self._modules(declaration)
            self.module_instances[declaration.name] = modules
            module_refs: list[Value] = [ModuleRef(module) for module in modules]
            return module_refs if self._is_loop(declaration) else (module_refs[0] if module_refs else None)
        raise BicepError(f"line {declaration.line}: {declaration.keyword} is not a value")

    @staticmethod
    def _is_loop(declaration: Declaration) -> bool:
        return declaration.value is not None and declaration.value.kind == "for"

    def _bodies(self, declaration: Declaration) -> list[tuple[Value, Node, Scope]]:
        """(condition, object node, scope) for each instance a resource or module declaration makes."""
        body = declaration.value
        assert body is not None
        if body.kind == "object":
            return [(True, body, self.scope)]
        if body.kind == "if":
            condition = self.evaluate(body.children[0], self.scope)
            return [] if condition is False else [(condition, body.children[1], self.scope)]
        if body.kind == "for":
            item, index = body.value
            source_node, condition_node, object_node = body.children
            source = self.evaluate(source_node, self.scope)
            if not isinstance(source, list):
                raise BicepError(f"line {body.line}: cannot loop over {render(source)}")
            bodies: list[tuple[Value, Node, Scope]] = []
            for position, element in enumerate(source):
                names: dict[str, Value] = {item: element}
                if index:
                    names[index] = position
                scope = self.scope.child(**names)
                condition = True if condition_node is None else self.evaluate(condition_node, scope)
                if condition is not False:
                    bodies.append((condition, object_node, scope))
            return bodies
        raise BicepError(f"line {body.line}: unsupported body")

    def _resources(self, declaration: Declaration) -> list[ResourceInstance]:
        assert declaration.type is not None
        type_, _, api_version = declaration.type.partition("@")
        instances: list[ResourceInstance] = []
        for condition, node, scope in self._bodies(declaration):
            body = self.evaluate(node, scope)
            assert isinstance(body, dict)
            name = body.get("name")
            parent = body.get("parent")
            if isinstance(parent, ResourceRef):
                if not type_.startswith(parent.instance.type + "/"):
                    raise BicepError(f"line {declaration.line}: {type_} is not a child of {parent.instance.type}")
                full_name: Value = _concat_strings([parent.instance.full_name, "/", name])
            elif parent is None:
                full_name = name
            else:
                raise BicepError(f"line {declaration.line}: parent must be a resource")
            instances.append(
                ResourceInstance(
                    symbol=declaration.name,
                    type=type_,
                    api_version=api_version,
                    full_name=full_name,
                    existing=declaration.existing,
                    condition=condition,
                    body=body,
                    path=self.path,
                    scope_value=body.get("scope"),
                )
            )
        return instances

    def _modules(self, declaration: Declaration) -> list[ModuleInstance]:
        assert declaration.type is not None
        path = (self.path.parent / declaration.type).resolve()
        modules: list[ModuleInstance] = []
        for condition, node, scope in self._bodies(declaration):
            body = self.evaluate(node, scope)
            assert isinstance(body, dict)
            params = body.get("params") or {}
            if not isinstance(params, dict):
                raise BicepError(f"line {declaration.line}: module params must be an object")
            result = _FileEvaluator(path, params).run()
            modules.append(ModuleInstance(declaration.name, path, params, condition, body.get("scope"), result))
        return modules

    # -- expressions
    def evaluate(self, node: Node, scope: Scope) -> Value:
        handler = getattr(self, f"_eval_{node.kind}", None)
        if handler is None:
            raise BicepError(f"line {node.line}: cannot evaluate {node.kind}")
        return cast(Value, handler(node, scope))

    def _eval_literal(self, node: Node, scope: Scope) -> Value:
        return cast(Value, node.value)

    def _eval_string(self, node: Node, scope: Scope) -> Value:
        parts: list[Value] = [part if isinstance(part, str) else self.evaluate(part, scope) for part in node.children]
        return _concat_strings(parts)

    def _eval_name(self, node: Node, scope: Scope) -> Value:
        return scope.lookup(node.value)

    def _eval_object(self, node: Node, scope: Scope) -> Value:
        result: dict[str, Value] = {}
        for key_node, value_node in node.children:
            key = self.evaluate(key_node, scope)
            result[render(key)] = self.evaluate(value_node, scope)
        return result

    def _eval_array(self, node: Node, scope: Scope) -> Value:
        return [self.evaluate(child, scope) for child in node.children]

    def _eval_for(self, node: Node, scope: Scope) -> Value:
        item, index = node.value
        source_node, condition_node, body_node = node.children
        source = self.evaluate(source_node, scope)
        if isinstance(source, (Opaque, Template)):
            return Opaque(f"for({render(source)})")
        if not isinstance(source, list):
            raise BicepError(f"line {node.line}: cannot loop over {render(source)}")
        result: list[Value] = []
        for position, element in enumerate(source):
            names: dict[str, Value] = {item: element}
            if index:
                names[index] = position
            inner = scope.child(**names)
            if condition_node is not None and self.evaluate(condition_node, inner) is False:
                continue
            result.append(self.evaluate(body_node, inner))
        return result

    def _eval_lambda(self, node: Node, scope: Scope) -> Value:
        return Lambda(tuple(node.value), node.children[0], scope)

    def _eval_ternary(self, node: Node, scope: Scope) -> Value:
        condition = self.evaluate(node.children[0], scope)
        if condition is True:
            return self.evaluate(node.children[1], scope)
        if condition is False:
            return self.evaluate(node.children[2], scope)
        then = self.evaluate(node.children[1], scope)
        otherwise = self.evaluate(node.children[2], scope)
        if then == otherwise:
            return then
        return Opaque(f"if({render(condition)}, {render(then)}, {render(otherwise)})")

    def _eval_unary(self, node: Node, scope: Scope) -> Value:
        operand = self.evaluate(node.children[0], scope)
        if node.value == "!":
            if isinstance(operand, bool):
                return not operand
            return Opaque(f"!{render(operand)}")
        if isinstance(operand, int) and not isinstance(operand, bool):
            return -operand
        return Opaque(f"-{render(operand)}")

    def _eval_binary(self, node: Node, scope: Scope) -> Value:
        operator = node.value
        left = self.evaluate(node.children[0], scope)
        if operator == "&&" and left is False:
            return False
        if operator == "||" and left is True:
            return True
        if operator == "??" and left is not None and is_known(left):
            return left
        right = self.evaluate(node.children[1], scope)
        if operator in ("&&", "||"):
            if isinstance(left, bool) and isinstance(right, bool):
                return (left and right) if operator == "&&" else (left or right)
            if operator == "&&" and right is False:
                return False
            if operator == "||" and right is True:
                return True
        elif operator == "??":
            return right if left is None else Opaque(f"coalesce({render(left)}, {render(right)})")
        elif is_known(left) and is_known(right):
            return _binary(operator, left, right, node.line)
        return Opaque(f"({render(left)} {operator} {render(right)})")

    def _eval_member(self, node: Node, scope: Scope) -> Value:
        target = self.evaluate(node.children[0], scope)
        return member(target, node.value, node.line)

    def _eval_index(self, node: Node, scope: Scope) -> Value:
        target = self.evaluate(node.children[0], scope)
        index = self.evaluate(node.children[1], scope)
        if isinstance(target, list) and isinstance(index, int) and not isinstance(index, bool):
            if not -len(target) <= index < len(target):
                raise BicepError(f"line {node.line}: index {index} out of range")
            return target[index]
        if isinstance(target, dict) and isinstance(index, str):
            return member(target, index, node.line)
        return Opaque(f"{render(target)}[{render(index)}]")

    def _eval_call(self, node: Node, scope: Scope) -> Value:
        receiver_node, *argument_nodes = node.children
        if receiver_node is not None:
            receiver = self.evaluate(receiver_node, scope)
            arguments = [self.evaluate(argument, scope) for argument in argument_nodes]
            return Opaque(f"{render(receiver)}.{node.value}({', '.join(render(a) for a in arguments)})")
        arguments = [self.evaluate(argument, scope) for argument in argument_nodes]
        function = FUNCTIONS.get(node.value)
        if function is None:
            raise BicepError(f"line {node.line}: unsupported function {node.value}()")
        return function(self, arguments)

    def call_lambda(self, function: Value, *arguments: Value) -> Value:
        if not isinstance(function, Lambda) or len(function.params) != len(arguments):
            raise BicepError("expected a lambda of the right arity")
        scope = function.scope.child(**dict(zip(function.params, arguments, strict=True)))
        return self.evaluate(function.body, scope)


def _binary(operator: str, left: Value, right: Value, line: int) -> Value:
    if operator == "==":
        return left == right
    if operator == "!=":
        return left != right
    if isinstance(left, int) and isinstance(right, int):
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "*":
            return left * right
        if operator == "/":
            return int(left / right)  # Bicep integer division truncates toward zero
        if operator == "%":
            return left % right
        if operator == ">":
            return left > right
        if operator == "<":
            return left < right
        if operator == ">=":
            return left >= right
        if operator == "<=":
            return left <= right
    raise BicepError(f"line {line}: cannot apply {operator} to {render(left)} and {render(right)}")


_RESOURCE_PROPERTIES = ("name", "type", "apiVersion")


def member(target: Value, name: str, line: int = 0) -> Value:
    if isinstance(target, dict):
        if name not in target:
            raise BicepError(f"line {line}: no property {name!r} in {render(target)[:120]}")
        return target[name]
    if isinstance(target, ResourceRef):
        instance = target.instance
        if name == "name":
            name_value = instance.body.get("name")
            return name_value
        if name == "type":
            return instance.type
        if name == "apiVersion":
            return instance.api_version
        if name == "id":
            return Opaque(f"resourceId({instance.type}, {render(instance.full_name)})")
        return Opaque(f"{render(target)}.{name}")
    if isinstance(target, ModuleRef):
        if name == "outputs":
            return dict(target.instance.result.outputs)
        if name == "name":
            return Opaque(f"{render(target)}.name")
        raise BicepError(f"line {line}: modules have no property {name!r}")
    if isinstance(target, (Opaque, Template)):
        return Opaque(f"{render(target)}.{name}")
    raise BicepError(f"line {line}: no property {name!r} on {render(target)}")


# ---------------------------------------------------------------------------------------------------
# Functions: known values are computed, anything else becomes an Opaque value named by the call.

Function = Callable[[_FileEvaluator, list[Value]], Value]


def _opaque_call(name: str) -> Function:
    def call(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
        return Opaque(f"{name}({', '.join(render(a) for a in arguments)})")

    return call


def _known(name: str, compute: Callable[..., Value]) -> Function:
    def call(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
        if all(is_known(argument) and not isinstance(argument, (ResourceRef, ModuleRef)) for argument in arguments):
            return compute(*arguments)
        return Opaque(f"{name}({', '.join(render(a) for a in arguments)})")

    return call


def _concat(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
    if arguments and all(isinstance(argument, list) for argument in arguments):
        return [item for argument in arguments for item in cast(list[Value], argument)]
    if any(isinstance(argument, list) for argument in arguments):
        return Opaque(f"concat({', '.join(render(a) for a in arguments)})")
    return _concat_strings(arguments)


def _union(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
    if all(isinstance(argument, dict) for argument in arguments):
        merged: dict[str, Value] = {}
        for argument in arguments:
            merged.update(cast(dict[str, Value], argument))
        return merged
    return Opaque(f"union({', '.join(render(a) for a in arguments)})")


def _flatten(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
    (outer,) = arguments
    if isinstance(outer, list) and all(isinstance(inner, list) for inner in outer):
        return [item for inner in outer for item in cast(list[Value], inner)]
    return Opaque(f"flatten({render(outer)})")


def _filter(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
    items, predicate = arguments
    if not isinstance(items, list):
        return Opaque(f"filter({render(items)})")
    kept: list[Value] = []
    for item in items:
        verdict = evaluator.call_lambda(predicate, item)
        if not isinstance(verdict, bool):
            return Opaque(f"filter({render(items)})")
        if verdict:
            kept.append(item)
    return kept


def _map(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
    items, function = arguments
    if not isinstance(items, list):
        return Opaque(f"map({render(items)})")
    return [evaluator.call_lambda(function, item) for item in items]


def _empty_function(evaluator: _FileEvaluator, arguments: list[Value]) -> Value:
    (value,) = arguments
    if isinstance(value, Template) and any(isinstance(part, str) and part for part in value.parts):
        return False  # literal text makes it non-empty whatever the runtime parts are
    if isinstance(value, Opaque) and value.key.startswith("resourceId("):
        return False  # a resource id is never empty
    if isinstance(value, (Opaque, Template, ResourceRef, ModuleRef)):
        return Opaque(f"empty({render(value)})")
    return value in (None, "", [], {})


def _contains(container: Value, item: Value) -> Value:
    if isinstance(container, dict) and isinstance(item, str):
        return item in container
    if isinstance(container, (list, str)):
        return item in container
    raise BicepError(f"contains() on {render(container)}")


def _string(value: Value) -> Value:
    return value if isinstance(value, str) else render(value)


FUNCTIONS: dict[str, Function] = {
    "concat": _concat,
    "union": _union,
    "flatten": _flatten,
    "filter": _filter,
    "map": _map,
    "empty": _empty_function,
    "contains": _known("contains", _contains),
    "string": _known("string", _string),
    "int": _known("int", lambda value: int(value)),
    "toUpper": _known("toUpper", lambda value: value.upper()),
    "toLower": _known("toLower", lambda value: value.lower()),
    "replace": _known("replace", lambda value, old, new: value.replace(old, new)),
    "split": _known("split", lambda value, separator: value.split(separator)),
    "last": _known("last", lambda value: value[-1]),
    "first": _known("first", lambda value: value[0]),
    "length": _known("length", lambda value: len(value)),
    "max": _known("max", lambda *values: max(values)),
    "min": _known("min", lambda *values: min(values)),
    "take": _known("take", lambda value, count: value[:count]),
    "uniqueString": _opaque_call("uniqueString"),
    "guid": _opaque_call("guid"),
    "subscription": _opaque_call("subscription"),
    "tenant": _opaque_call("tenant"),
    "environment": _opaque_call("environment"),
    "resourceGroup": _opaque_call("resourceGroup"),
    "subscriptionResourceId": _opaque_call("subscriptionResourceId"),
    "resourceId": _opaque_call("resourceId"),
    "utcNow": _opaque_call("utcNow"),
    "dateTimeAdd": _opaque_call("dateTimeAdd"),
    "dateTimeToEpoch": _opaque_call("dateTimeToEpoch"),
}


def evaluate(path: Path, params: Mapping[str, Value] | None = None) -> Deployment:
    """Evaluate a Bicep file (and its modules) with the given parameter values."""
    return _FileEvaluator(path, params or {}).run()


# ---------------------------------------------------------------------------------------------------
# azd parameters


_AZD_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}")


def azd_parameters(path: Path, environment: Mapping[str, str]) -> dict[str, Value]:
    """``main.parameters.json`` as azd resolves it: ``${VAR}`` / ``${VAR=default}`` from the environment,
    then "true"/"false"/digits as the Bicep parameter types expect (azd converts by the parameter type)."""
    import json

    document = json.loads(path.read_text(encoding="utf-8"))
    values: dict[str, Value] = {}
    for name, entry in document["parameters"].items():
        value = entry["value"]
        if isinstance(value, str):
            value = _AZD_REFERENCE.sub(functools.partial(_azd_variable, name, environment=environment), value)
            if value in ("true", "false"):
                value = value == "true"
            elif value.isdigit():
                value = int(value)
        values[name] = cast(Value, value)
    return values


def _azd_variable(parameter: str, match: re.Match[str], *, environment: Mapping[str, str]) -> str:
    variable, default = match.group(1), match.group(2)
    if variable in environment:
        return environment[variable]
    if default is None:
        raise BicepError(f"{parameter}: ${{{variable}}} has no value and no default")
    return default

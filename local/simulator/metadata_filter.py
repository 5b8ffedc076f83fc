"""The `$filter` expression of GetImages/GetImageCount: image metadata with eq, ne, and, or, parentheses.

Grammar (operators case-insensitive, `and` binds tighter than `or`, OData-style string literals in single
quotes with `''` as an escaped quote):

    expression := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "(" expression ")" | KEY ("eq" | "ne") 'VALUE'

A missing key compares as null: `key eq 'v'` is false and `key ne 'v'` is true. The Swagger's example
reads "metadata=key1 eq 'value1' and ...", so a leading `metadata=` is tolerated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MetadataPredicate = Callable[[Mapping[str, str]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|'(?P<string>(?:[^']|'')*)'|(?P<word>[^\s()']+))",
)


class FilterSyntaxError(ValueError):
    """The expression cannot be parsed; the message says where."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "open", "close", "string", "word"
    text: str
    position: int


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        if expression[position:].strip() == "":
            break
        match = _TOKEN.match(expression, position)
        if not match or match.end() == position:
            raise FilterSyntaxError(f"unexpected character at position {position}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "string":
            text = text.replace("''", "'")
        tokens.append(_Token(kind, text, match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0

    def parse(self) -> MetadataPredicate:
        if not self._tokens:
            raise FilterSyntaxError("empty expression")
        predicate = self._expression()
        if self._index != len(self._tokens):
            raise FilterSyntaxError(f"unexpected {self._tokens[self._index].text!r}")
        return predicate

    def _peek_word(self, word: str) -> bool:
        if self._index >= len(self._tokens):
            return False
        token = self._tokens[self._index]
        return token.kind == "word" and token.text.lower() == word

    def _next(self, expected: str) -> _Token:
        if self._index >= len(self._tokens):
            raise FilterSyntaxError(f"expression ends where {expected} was expected")
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _expression(self) -> MetadataPredicate:
        operands = [self._term()]
        while self._peek_word("or"):
            self._index += 1
            operands.append(self._term())
        if len(operands) == 1:
            return operands[0]
        return lambda metadata: any(operand(metadata) for operand in operands)

    def _term(self) -> MetadataPredicate:
        operands = [self._factor()]
        while self._peek_word("and"):
            self._index += 1
            operands.append(self._factor())
        if len(operands) == 1:
            return operands[0]
        return lambda metadata: all(operand(metadata) for operand in operands)

    def _factor(self) -> MetadataPredicate:
        token = self._next("a comparison or '('")
        if token.kind == "open":
            inner = self._expression()
            if self._next("')'").kind != "close":
                raise FilterSyntaxError(f"missing ')' for '(' at position {token.position}")
            return inner
        if token.kind != "word" or token.text.lower() in ("and", "or", "eq", "ne"):
            raise FilterSyntaxError(f"expected a metadata key at position {token.position}")
        key = token.text
        operator = self._next("'eq' or 'ne'")
        if operator.kind != "word" or operator.text.lower() not in ("eq", "ne"):
            raise FilterSyntaxError(f"expected 'eq' or 'ne' at position {operator.position}")
        value = self._next("a quoted value")
        if value.kind != "string":
            raise FilterSyntaxError(f"expected a quoted value at position {value.position}")
        literal = value.text
        if operator.text.lower() == "eq":
            return lambda metadata: metadata.get(key) == literal
        return lambda metadata: metadata.get(key) != literal


def parse_filter(expression: str) -> MetadataPredicate:
    """Compile a `$filter` expression into a predicate over an image's metadata."""
    text = expression.strip()
    if text.lower().startswith("metadata="):
        text = text[len("metadata=") :]
    return _Parser(_tokenize(text)).parse()

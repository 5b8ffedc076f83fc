"""Typed access to an operation's query parameters, with the service's validation errors.

Names are matched case-insensitively (ASP.NET model binding does the same). Arrays are `csv` per the
Swagger, and repeated parameters are accepted too. Each operation declares the names it accepts;
reading an undeclared name is a programming error, which keeps the declarations (checked against the
Swagger by the fidelity tests) honest.

Error codes, where the service documents none (*inference*): a missing required parameter is
`BadRequestRequiredParamIsNull`; malformed ids `BadRequestInvalidIds`; too many ids
`BadRequestExceededBatchSize`; any other out-of-range, unparsable or unknown-enum value
`BadRequestInvalid`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import TypeVar

from starlette.datastructures import QueryParams

from local.simulator.errors import ApiError
from local.simulator.identifiers import canonical_uuid

E = TypeVar("E", bound=str)


class QueryReader:
    def __init__(self, query: QueryParams, declared: Collection[str]) -> None:
        self._declared = {name.lower(): name for name in declared}
        self._values: dict[str, list[str]] = {}
        for key, value in query.multi_items():
            self._values.setdefault(key.lower(), []).append(value)

    def _raw(self, name: str) -> list[str]:
        if name.lower() not in self._declared:
            raise AssertionError(f"query parameter {name!r} is not declared for this operation")
        return self._values.get(name.lower(), [])

    def has(self, name: str) -> bool:
        return bool(self._raw(name))

    def string(self, name: str, *, required: bool = False) -> str | None:
        values = self._raw(name)
        if not values or values[-1] == "":
            if required:
                raise ApiError("BadRequestRequiredParamIsNull", f"The parameter '{name}' is required.")
            return None
        return values[-1]

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None
        return value

    def uuid(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is None:
            return None
        canonical = canonical_uuid(value)
        if canonical is None:
            raise ApiError("BadRequestInvalidIds", f"'{value}' is not a valid id for '{name}'.")
        return canonical

    def uuid_list(
        self,
        name: str,
        *,
        max_items: int | None = None,
        required: bool = False,
        exceeded_code: str = "BadRequestExceededBatchSize",
        missing_code: str = "BadRequestRequiredParamIsNull",
    ) -> list[str] | None:
        """A csv (or repeated) list of UUIDs, de-duplicated in order; None when absent."""
        parts = [part.strip() for value in self._raw(name) for part in value.split(",")]
        if not parts or parts == [""]:
            if required:
                raise ApiError(missing_code, f"The parameter '{name}' is required.")
            return None
        ids: list[str] = []
        for part in parts:
            canonical = canonical_uuid(part)
            if canonical is None:
                raise ApiError("BadRequestInvalidIds", f"'{part}' in '{name}' is not a valid id.")
            if canonical not in ids:
                ids.append(canonical)
        if max_items is not None and len(ids) > max_items:
            raise ApiError(exceeded_code, f"'{name}' is limited to {max_items} ids; {len(ids)} were given.")
        return ids

    def integer(self, name: str, *, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.string(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ApiError("BadRequestInvalid", f"'{name}' must be an integer, not '{value}'.") from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = (
                f"between {minimum if minimum is not None else '-inf'} and {maximum if maximum is not None else 'inf'}"
            )
            raise ApiError("BadRequestInvalid", f"'{name}' must be {bounds}; got {number}.")
        return number

    def number(self, name: str, *, default: float) -> float:
        value = self.string(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ApiError("BadRequestInvalid", f"'{name}' must be a number, not '{value}'.") from None
        if not math.isfinite(number):
            raise ApiError("BadRequestInvalid", f"'{name}' must be a finite number.")
        return number

    def boolean(self, name: str, *, default: bool = False) -> bool:
        value = self.string(name)
        if value is None:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ApiError("BadRequestInvalid", f"'{name}' must be true or false, not '{value}'.")

    def choice(self, name: str, choices: Sequence[E], *, default: E | None = None) -> E | None:
        """An enum value, matched case-insensitively and returned in its canonical spelling."""
        value = self.string(name)
        if value is None:
            return default
        for candidate in choices:
            if candidate.lower() == value.lower():
                return candidate
        raise ApiError("BadRequestInvalid", f"'{name}' must be one of {', '.join(choices)}; got '{value}'.")

"""Reading the partnership's data files (targets, reference figures): TOML checked against a
model, the first problem as one line naming the file, the entry and the field."""

from __future__ import annotations

import tomllib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def checked(text: str, name: str, model: type[M], error: type[ValueError]) -> M:
    """`text` as `model`, or `error` saying what is wrong where."""
    try:
        return model.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{name}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise error(f"{name}: {where}: {problem['msg']}") from None

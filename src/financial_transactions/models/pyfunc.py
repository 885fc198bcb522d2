"""What every caller of a registered pyfunc needs: its inputs only, and its aliases in words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def model_inputs(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` cut to the pyfunc's signature inputs, in the signature's order.

    Feature tables carry keys, labels and bookkeeping the model was not built on; handing
    them to ``predict`` makes MLflow warn about every extra column on every call (27 of
    them on gold). A model without a signature, or a frame lacking one of its inputs, gets
    ``frame`` unchanged (the pyfunc's own schema check then names what is missing).
    """
    try:
        schema = model.metadata.get_input_schema()
    except AttributeError:
        return frame
    if schema is None:
        return frame
    names = list(schema.input_names())
    return frame[names] if set(names) <= set(frame.columns) else frame


def aliases_text(aliases: dict[str, int] | None) -> str:
    """``champion v3, previous-champion v2``: what an operator reads, never a Python dict's repr."""
    if not aliases:
        return "none"
    return ", ".join(f"{alias} v{version}" for alias, version in sorted(aliases.items()))

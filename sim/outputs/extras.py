"""The optional ``exports`` extra: openpyxl for the workbook, python-pptx for the deck."""

from __future__ import annotations

import importlib
from typing import Any

EXTRA = "exports"


def require(module: str, what: str) -> Any:
    """Import ``module`` for ``what`` (``write_excel``), or say which extra installs it.

    Raises
    ------
    ImportError
        Naming the missing package and ``pip install "lora-tco[exports]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f'{what} needs {module.split(".")[0]}, which is not installed: pip install "lora-tco[{EXTRA}]"') from None

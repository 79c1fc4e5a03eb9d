"""The one exception for a missing optional extra of the install.

It lives in `synth`, the lowest package, so that `synth` (the `dask` extra, the JPEG 2000
decoders) and every package above it raise the same class with the same sentence;
`evalkit.MissingExtraError` is this class.
"""

from __future__ import annotations

__all__ = ["MissingExtraError"]


class MissingExtraError(ModuleNotFoundError):
    """An optional extra of the install is needed and absent; the message says how to add it.

    Examples
    --------
    >>> from synth import MissingExtraError
    >>> print(MissingExtraError("dask", "distributed"))
    needs the 'dask' extra: pip install 'mcc-toolkit[dask]'
    """

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(f"needs the '{extra}' extra: pip install 'mcc-toolkit[{extra}]'",
                         name=module)
        self.extra = extra

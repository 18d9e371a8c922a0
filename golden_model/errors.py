"""Errors the user can act on.

Every check on user-supplied input (data, weights, bundles, parameters) raises one of these
with a message that names the problem; the CLI prints the message without a traceback.
"""


class IpvaeError(Exception):
    """Base class: a problem with what the user gave us, explained in the message."""


class DataError(IpvaeError):
    """Input data is unusable: wrong shape, NaN/Inf, pixel values out of range, missing files."""


class BundleError(IpvaeError):
    """A model bundle is corrupt, truncated, of another version, or inconsistent."""


class ParameterError(IpvaeError):
    """A parameter (width, size, lane count, iteration count) the hardware cannot build."""


class ToolError(IpvaeError):
    """An external tool (Yosys, nextpnr, a simulator) failed: its own error line and its log.
    ``said`` is the tool's own error line (e.g. nextpnr's "ERROR: Unable to place ...")."""

    def __init__(self, message, said=""):
        super().__init__(message)
        self.said = said

    @classmethod
    def from_output(cls, label, output, where=""):
        """The tool ``label`` failed with ``output`` (its log or stderr): one line naming its first
        ERROR line (or its last line), and ``where`` its whole log is."""
        lines = [ln.strip() for ln in str(output).splitlines() if ln.strip()]
        said = next((ln for ln in lines if ln.startswith("ERROR")), lines[-1] if lines else "no output")
        return cls(f"{label} failed: {said}" + (f" (log: {where})" if where else ""), said)


def check_finite(name, array):
    """Raise DataError if ``array`` holds NaN or Inf, naming the first bad index."""
    import numpy as np

    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise DataError(f"{name} contains NaN or Inf (first at index {tuple(int(i) for i in bad)})")

"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.).

An IDX file is a big-endian header (two zero bytes, a type code, the number
of dimensions, then each dimension as a 32-bit unsigned integer) followed by
the values in C order. Files may be gzip-compressed.
"""

import gzip
import os
import struct

import numpy as np

# IDX type code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}


def _open_read(path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    Parameters
    ----------
    path : str or path-like
        The file. Compression is detected from its content, not its name.

    Returns
    -------
    array : ndarray
        The values with the file's shape, in the native byte order
        (``uint8`` for the MNIST family).

    Raises
    ------
    ValueError
        If the file is not IDX (wrong magic number or type code) or is
        shorter than its header says.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skhtm.datasets import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte.gz")
    >>> write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    >>> read_idx(path).shape
    (2, 3, 4)
    """
    with _open_read(path) as f:
        header = f.read(4)
        if len(header) < 4 or header[:2] != b"\x00\x00":
            raise ValueError(f"read_idx: {os.fspath(path)!r} is not an IDX file "
                             f"(magic number {header!r}).")
        code, ndim = header[2], header[3]
        if code not in IDX_DTYPES:
            raise ValueError(f"read_idx: {os.fspath(path)!r} has unknown IDX type code "
                             f"0x{code:02X}; expected one of "
                             f"{', '.join(f'0x{c:02X}' for c in IDX_DTYPES)}.")
        dims = f.read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise ValueError(f"read_idx: {os.fspath(path)!r} is truncated in its header.")
        shape = struct.unpack(f">{ndim}I", dims)
        dtype = IDX_DTYPES[code]
        n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = f.read(n_bytes)
    if len(data) < n_bytes:
        raise ValueError(f"read_idx: {os.fspath(path)!r} is truncated: its header promises "
                         f"shape {shape} ({n_bytes} bytes of data) but it holds {len(data)}.")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write an array as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    array : array-like
        Values of a dtype IDX stores: uint8, int8, int16, int32, float32 or
        float64.
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: IDX cannot store dtype {array.dtype}; use one of "
                         "uint8, int8, int16, int32, float32, float64.")
    if array.ndim > 255:
        raise ValueError("write_idx: IDX stores at most 255 dimensions.")
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(bytes([0, 0, code, array.ndim]))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes())

"""MNIST and Fashion-MNIST: found on the machine, or downloaded once and cached."""

import hashlib
import os
import shutil
import tempfile
import urllib.request

import numpy as np
from sklearn.utils import Bunch

from ._base import get_data_home
from ._idx import read_idx

_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

# name -> where to look besides data_home, where to download from, and the
# published MD5 of each gzip file (checked on download only: a copy installed
# by a package manager may be stored uncompressed).
SOURCES = {
    "fashion-mnist": dict(
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
        md5={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
             "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
             "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
             "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        target_names=["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"],
        install_hint=" On Debian or Ubuntu: apt-get install dataset-fashion-mnist.",
        descr=("Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28x28 grey images of "
               "Zalando articles in 10 classes, 60,000 for training and 10,000 for testing. "
               "https://github.com/zalandoresearch/fashion-mnist"),
    ),
    "mnist": dict(
        system_dirs=("/usr/share/datasets/mnist",),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        md5={"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
        target_names=[str(d) for d in range(10)],
        install_hint="",
        descr=("MNIST (LeCun, Bottou, Bengio & Haffner 1998): 70,000 28x28 grey images of "
               "handwritten digits, 60,000 for training and 10,000 for testing."),
    ),
}

_TIMEOUT_S = 60


def _md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find(stem, dirs):
    for folder in dirs:
        for name in (stem, stem + ".gz"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def _download(func, stem, source, folder):
    """Fetch ``stem``.gz into ``folder`` from the first mirror that serves it intact."""
    name = stem + ".gz"
    failures = []
    for mirror in source["mirrors"]:
        url = mirror + name
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as r:
                shutil.copyfileobj(r, out)
            if _md5(tmp) != source["md5"][name]:
                failures.append(f"{url}: checksum mismatch")
                continue
            path = os.path.join(folder, name)
            os.replace(tmp, path)  # atomic: a half-written file is never found later
            return path
        except OSError as exc:  # URLError and HTTPError are OSErrors
            failures.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise OSError(f"{func}: could not download {name} ({'; '.join(failures)})."
                  f"{source['install_hint']}")


def _fetch(func, name, data_home, subset, download_if_missing, return_X_y):
    if subset not in ("train", "test", "all"):
        raise ValueError(f"{func}: subset must be 'train', 'test' or 'all', got {subset!r}.")
    if not isinstance(download_if_missing, bool):
        raise TypeError(f"{func}: download_if_missing must be a bool, "
                        f"got {download_if_missing!r}.")
    source = SOURCES[name]
    folder = os.path.join(get_data_home(data_home), name)
    dirs = (folder, *source["system_dirs"])
    images, labels = [], []
    for part in (("train", "test") if subset == "all" else (subset,)):
        arrays = []
        for stem in _STEMS[part]:
            path = _find(stem, dirs)
            if path is None:
                if not download_if_missing:
                    raise OSError(
                        f"{func}: data not found (looked for {stem}[.gz] in "
                        f"{', '.join(dirs)}) and download_if_missing is False."
                        f"{source['install_hint']}")
                os.makedirs(folder, exist_ok=True)
                path = _download(func, stem, source, folder)
            arrays.append(read_idx(path))
        if len(arrays[0]) != len(arrays[1]):
            raise ValueError(f"{func}: {len(arrays[0])} images but {len(arrays[1])} labels "
                             f"in the {part} files under {os.path.dirname(path)}.")
        images.append(arrays[0])
        labels.append(arrays[1])
    images = np.concatenate(images) if len(images) > 1 else images[0]
    target = (np.concatenate(labels) if len(labels) > 1 else labels[0]).astype(np.int64)
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target
    h, w = images.shape[1:]
    return Bunch(data=data, target=target, images=images,
                 target_names=np.asarray(source["target_names"], dtype=object),
                 feature_names=[f"pixel_{r}_{c}" for r in range(h) for c in range(w)],
                 DESCR=source["descr"])


_DOC = """Load the {title} images (28x28, grey levels 0-255) and labels.

    Looks first in ``data_home``, then in {system}; downloads the
    gzip-compressed IDX files into ``data_home`` only if they are in neither
    place (checking their published MD5), so later calls read the cache.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where downloads are kept (a ``{name}`` folder inside it). By default
        :func:`get_data_home`: the environment variable ``SKHTM_DATA``, else
        ``~/skhtm_data``.
    subset : {{'train', 'test', 'all'}}, default='train'
        The 60,000 training images, the 10,000 test images, or all 70,000
        (training first).
    download_if_missing : bool, default=True
        If False, raise an ``OSError`` instead of downloading.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (n_samples, 784) uint8, ``images`` (n_samples, 28, 28) uint8
        (a view of ``data``), ``target`` (n_samples,) int64, ``target_names``,
        ``feature_names`` (``pixel_<row>_<col>``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True.

    Raises
    ------
    OSError
        If the data is absent and ``download_if_missing`` is False, or every
        mirror fails; the message says where it looked.
    """


def fetch_fashion_mnist(*, data_home=None, subset="train", download_if_missing=True,
                        return_X_y=False):
    return _fetch("fetch_fashion_mnist", "fashion-mnist", data_home, subset,
                  download_if_missing, return_X_y)


def fetch_mnist(*, data_home=None, subset="train", download_if_missing=True, return_X_y=False):
    return _fetch("fetch_mnist", "mnist", data_home, subset, download_if_missing, return_X_y)


fetch_fashion_mnist.__doc__ = _DOC.format(
    title="Fashion-MNIST", name="fashion-mnist",
    system="/usr/share/datasets/fashion-mnist (Debian's package dataset-fashion-mnist)")
fetch_mnist.__doc__ = _DOC.format(title="MNIST", name="mnist",
                                  system="/usr/share/datasets/mnist")

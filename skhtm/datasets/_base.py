"""Where downloaded datasets are kept."""

import os


def get_data_home(data_home=None):
    """Return the folder where skhtm keeps downloaded datasets, creating it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. By default the environment variable ``SKHTM_DATA``,
        else ``~/skhtm_data``.

    Returns
    -------
    data_home : str
        The folder, with ``~`` expanded.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhtm.datasets import get_data_home
    >>> home = get_data_home(os.path.join(tempfile.mkdtemp(), "data"))
    >>> os.path.isdir(home)
    True
    """
    if data_home is None:
        data_home = os.environ.get("SKHTM_DATA", os.path.join("~", "skhtm_data"))
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home

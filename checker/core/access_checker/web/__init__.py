"""The checker in the browser, as pure Python: views, the form, the shell and the session.

Nothing here imports ``js`` or ``pyodide``. The page's worker (``worker.mjs``) passes messages
to :mod:`~access_checker.web.session` and posts its replies back; the build writes the
:mod:`~access_checker.web.shell` into the page. So every module is tested on CPython, in the
split of Pyodide's own ``console.py`` (pure logic, thin adapter), with the adapter in JavaScript.
"""

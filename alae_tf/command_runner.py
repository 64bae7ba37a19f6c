"""What every command (`alae_tf/commands/`) does around absl's `app.run(main)`, however it was started.

A command runs as a console script (`alae-train`), as `python -m alae_tf.commands.train`, or through a
shim (`python export/saved_model.py`). absl's `--helpshort` prints `__main__`'s docstring and the flags
that `sys.argv[0]` defines, which for a console script or a shim are neither the command's docstring nor
its flags: `run` makes them the command's. It also points a `--flagfile=flags/NAME.cfg` that does not
exist from the current folder at the shipped copy (`alae_tf.flagfiles`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from absl import app, flags

from alae_tf import flagfiles


def run(main: Callable[[list[str]], object], module_name: str) -> None:
    """`app.run(main)` for the command module `module_name` (its `__name__`)."""
    module = sys.modules[module_name]
    main_module = sys.modules["__main__"]
    if module is not main_module:
        for flag in flags.FLAGS.get_key_flags_for_module(module_name):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
        main_module.__doc__ = module.__doc__
    app.run(main, argv=flagfiles.expand_argv(sys.argv))

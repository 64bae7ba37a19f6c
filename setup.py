"""Ships the top-level flags/*.cfg inside the package, as alae_tf/flags/*.cfg (everything else is in pyproject.toml).

The flagfiles stay at the top of the repository (`--flagfile=flags/NAME.cfg` from a checkout); an installed
command finds the shipped copies through `alae_tf.flagfiles`.
"""

import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent


class BuildPyWithFlagfiles(build_py):
    def run(self):
        super().run()
        target = pathlib.Path(self.build_lib, "alae_tf", "flags")
        self.mkpath(str(target))
        for flagfile in sorted((ROOT / "flags").glob("*.cfg")):
            self.copy_file(str(flagfile), str(target / flagfile.name))


setup(cmdclass={"build_py": BuildPyWithFlagfiles})

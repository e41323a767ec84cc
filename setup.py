"""Which packages the sdist and wheel hold; everything else about the project is in pyproject.toml.

The checkout keeps ``assets/`` at the top level; the wheel installs it as ``dashboard/assets`` so that
an installed JobDash does not add a package named ``assets`` to site-packages.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["dashboard", "dashboard.*", "db", "db.*", "migrations", "migrations.*"]),
        "dashboard.assets",
        "dashboard.assets.fonts",
    ],
    package_dir={"dashboard.assets": "assets"},
)

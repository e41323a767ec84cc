"""The dashboard's pages, one module each; Dash Pages imports them when the app is built (see shell.py)."""

"""Backup and restore of a Liveblog site: its PostgreSQL database and its uploaded media.

`scripts/backup` and `scripts/restore` run `backup.main` and `restore.main`; docs/backup.md says
how and why. The backup side needs only the standard library and PostgreSQL's client programs, so
it runs with any Python 3.12+; the restore runs the app's migrations, so it needs the app's Python.
"""

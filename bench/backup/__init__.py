"""Backup and restore, proved end to end: a realistic site is backed up with `scripts/backup`,
restored into a fresh database and media directory with `scripts/restore`, and every reader page,
feed, catch-up answer and image must come back identical.

- site.py: in a process of its own, pointed at one database and media directory: fill it
  (`populate`) or render what readers get from it (`snapshot`, Django's test client);
- drill.py: the steps (databases, populate, snapshots, backup, restore, comparison, clean-up),
  shared by tests/test_backup_restore.py and the benchmark;
- __main__.py: `python -m bench.backup` — the same for a big blog, with times and sizes.
"""

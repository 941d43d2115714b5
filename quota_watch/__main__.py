"""`python -m quota_watch` runs the command line."""

from quota_watch.cli import main

main()

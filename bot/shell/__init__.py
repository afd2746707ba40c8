"""`shipbell shell`: the real app against an in-process Slack, in a terminal."""

from shipbell.bot.shell.repl import run_shell, run_terminal

__all__ = ["run_shell", "run_terminal"]

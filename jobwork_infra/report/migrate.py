"""Migration progress for people: each event of migrate/events.py as one line of rich text."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from ..migrate import events as ev


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _duration(elapsed: float) -> str:
    seconds = round(elapsed)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class MigrateReport:
    """Renders migration events as they come (deploy and `migrate` pass it as their Emit)."""

    def __init__(self, console: Console):
        self.console = console

    def __call__(self, event: ev.Event) -> None:
        c = self.console
        match event:
            case ev.StreamEnabled(table, _, enabled_now):
                c.print(f"  stream of {escape(table)}: "
                        + ("enabled (NEW_AND_OLD_IMAGES)" if enabled_now else "on (NEW_AND_OLD_IMAGES)"))
            case ev.Prescanned(table, items, unkeyed, sample, collisions, seconds):
                c.print(f"  prescan of {escape(table)}: {_n(items, 'item')} in {_duration(seconds)}"
                        + (f", [yellow]{_n(unkeyed, 'item')} without the new key[/]" if unkeyed else "")
                        + (f", [red]{len(collisions)}+ shared new keys[/]" if collisions else ""))
                for key, why in sample:
                    c.print(f"    {escape(key)}: {escape(why)}")
            case ev.Resumed(table, phase, copied, done, segments):
                c.print(f"  resuming the migration of {escape(table)} ({phase}): {_n(copied, 'item')} copied, "
                        f"{done} of {_n(segments, 'segment')} done")
            case ev.CopyProgress(table, items, total, per_second, eta):
                of = f"/{total:,}" if total else ""
                left = f", ETA {_duration(eta)}" if eta is not None else ""
                c.print(f"  copy {escape(table)}: {items:,}{of} items ({per_second:,.0f} items/s{left})")
            case ev.Copied(table, items, seconds, throttled):
                rate = items / seconds if seconds > 0 else 0.0
                c.print(f"  copied {_n(items, 'item')} of {escape(table)} in {_duration(seconds)} "
                        f"({rate:,.0f} items/s" + (f"; {_n(throttled, 'throttled call')} retried" if throttled
                                                    else "") + ")")
            case ev.CaughtUp(table, records, writes, seconds, lag):
                c.print(f"  caught up from the stream of {escape(table)}: {_n(records, 'record')}, "
                        f"{_n(writes, 'write')} in {_duration(seconds)}"
                        + (f"; lag {lag:.1f} s" if lag is not None else ""))
            case ev.LeftBehind(table, count, file):
                c.print(f"  [yellow]left behind:[/] {_n(count, 'item')} of {escape(table)} without the new key, "
                        f"listed in {escape(file)}")
            case ev.Verified(table, source_items, target_items, differences, count, rounds):
                if count == 0:
                    c.print(f"  [green]verified:[/] {_n(source_items, 'item')} of {escape(table)} equal, item for "
                            f"item, in the new generation ({_n(target_items, 'item')})")
                else:
                    c.print(f"  [red]verify: {_n(count, 'difference')}[/] after {_n(rounds, 'round')} "
                            f"({_n(source_items, 'item')} in {escape(table)}, {target_items:,} in the new generation)")
                    for kind, key in differences:
                        c.print(f"    {kind}: {escape(key)}")

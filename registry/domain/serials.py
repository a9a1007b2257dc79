"""``SerialSet``: the serials a movement event names, as ranges where they are consecutive.

A delivery's serials are usually consecutive: ``KR-H100-000001`` .. ``KR-H100-005000``, perhaps
minus a few. A movement event used to list every one of them; a ``SerialSet`` names them as

* *runs*: a common prefix and a zero-padded numeric suffix counting up by one from ``first`` to
  ``last`` (same width), with the numbers in between that are *not* named listed as exceptions;
* *single serials*, as they are, wherever serials are not consecutive (another prefix, a width
  that changes, an order that goes down, a gap too wide to be worth an exception).

It is a ``Sequence[str]`` in exactly the order recorded: iterating it gives the serials the event
was built from, one by one, so no serial's identity is lost and consumers that iterate keep
working; ``len`` and ``in`` are answered from the runs without expanding them. The first
iteration (or index) expands the runs once and keeps the tuple: a projection iterates an event's
serials several times, and an event lives only while it is applied. Repeated serials
are kept as given (a run counts strictly upwards, so a repeat starts a new item): the domain
refuses them before an event is built; this type only records.

The compact form (:meth:`SerialSet.compact`, what the application's transcoding stores) is a JSON
list whose items are a serial (a string) or a run ``[prefix, first, last]`` /
``[prefix, first, last, [exceptions]]`` with ``first`` and ``last`` the digit strings (their
length is the width) and the exceptions as integers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

_SUFFIX = re.compile(r"[0-9]+\Z")  # ASCII digits only: int() would accept other scripts' digits
MAX_GAP = 4  # numbers skipped inside a run (each becomes an exception); a wider gap ends the run
MIN_RUN = 3  # fewer consecutive serials than this are kept as single serials


class _Run:
    """``prefix`` + ``first``..``last`` zero-padded to ``width``, except ``exceptions``."""

    __slots__ = ("exceptions", "first", "last", "prefix", "size", "width")

    def __init__(self, prefix: str, first: int, last: int, width: int, exceptions: tuple[int, ...]) -> None:
        self.prefix = prefix
        self.first = first
        self.last = last
        self.width = width
        self.exceptions = exceptions
        self.size = last - first + 1 - len(exceptions)

    def expand(self) -> list[str]:
        prefix, width = self.prefix, self.width
        if not self.exceptions:
            return [prefix + str(n).zfill(width) for n in range(self.first, self.last + 1)]
        skip = frozenset(self.exceptions)
        return [prefix + str(n).zfill(width) for n in range(self.first, self.last + 1) if n not in skip]

    def __contains__(self, serial: str) -> bool:
        if not serial.startswith(self.prefix):
            return False
        digits = serial[len(self.prefix):]
        if len(digits) != self.width or not _SUFFIX.fullmatch(digits):
            return False
        n = int(digits)
        return self.first <= n <= self.last and n not in self.exceptions

    def compact(self) -> list[Any]:
        out: list[Any] = [self.prefix, f"{self.first:0{self.width}d}", f"{self.last:0{self.width}d}"]
        if self.exceptions:
            out.append(list(self.exceptions))
        return out

    def key(self) -> tuple[Any, ...]:
        return (self.prefix, self.first, self.last, self.width, self.exceptions)


_Item = str | _Run


def _size(item: _Item) -> int:
    return 1 if isinstance(item, str) else item.size


def _split(serial: str) -> tuple[str, str] | None:
    m = _SUFFIX.search(serial)
    return None if m is None else (serial[: m.start()], m.group())


def split_serial(serial: str) -> tuple[str, str] | None:
    """A serial's prefix and its zero-padded numeric suffix (the digits at its end), as runs are
    formed; None when it does not end in a digit."""
    return _split(serial)


def _one_run(serials: Sequence[str]) -> _Run | None:
    """The serials as one run without exceptions when they are exactly that (a rack, a whole
    delivery: the common case), else None. Checked by building that run's serials and comparing
    the two lists, which runs in C, instead of splitting every serial in Python; when it holds,
    :func:`_encode`'s greedy pass would make the same single run (the prefix of the first serial
    ends in no digit, so each built serial splits into that prefix and its number)."""
    size = len(serials)
    if size < MIN_RUN or type(serials[0]) is not str:
        return None
    parts = _split(serials[0])
    if parts is None:
        return None
    prefix, digits = parts
    first = int(digits)
    run = _Run(prefix, first, first + size - 1, len(digits), ())
    if len(str(run.last)) > run.width or set(map(type, serials)) != {str}:
        return None
    expanded = run.expand()
    if expanded != serials if type(serials) is list else expanded != list(serials):
        return None
    return run


def one_run(serials: Sequence[str]) -> tuple[str, int, int, int] | None:
    """``(prefix, width, first, last)`` when the serials are exactly one run of consecutive numbers
    without exceptions, in order (see :func:`_one_run`: checked in C), else None."""
    run = _one_run(serials)
    return None if run is None else (run.prefix, run.width, run.first, run.last)


def _encode(serials: Iterable[str]) -> tuple[_Item, ...]:
    """Greedy, one pass: extend the current run while the next serial has its prefix and width
    and a number above its last one by at most ``MAX_GAP`` + 1."""
    if type(serials) is list or type(serials) is tuple:
        run = _one_run(serials)
        if run is not None:
            return (run,)
    items: list[_Item] = []
    pending: list[str] = []  # serials of the current candidate run, in order
    prefix = ""
    width = 0
    numbers: list[int] = []

    def flush() -> None:
        if len(pending) >= MIN_RUN:
            first, last = numbers[0], numbers[-1]
            named = set(numbers)
            items.append(_Run(prefix, first, last, width,
                              tuple(n for n in range(first, last + 1) if n not in named)))
        else:
            items.extend(pending)
        pending.clear()
        numbers.clear()

    for serial in serials:
        if type(serial) is not str:
            raise TypeError(f"a serial is a str, not {type(serial).__name__}")
        parts = _split(serial)
        if parts is not None:
            p, digits = parts
            n = int(digits)
            if pending and p == prefix and len(digits) == width and 0 < n - numbers[-1] <= MAX_GAP + 1:
                pending.append(serial)
                numbers.append(n)
                continue
            flush()
            prefix, width = p, len(digits)
            pending.append(serial)
            numbers.append(n)
        else:
            flush()
            items.append(serial)
    flush()
    return tuple(items)


class SerialSet(Sequence[str]):
    """An immutable sequence of serials stored as runs and single serials (module docstring)."""

    __slots__ = ("_expanded", "_items", "_len", "_singles")

    _items: tuple[_Item, ...]
    _len: int
    _singles: frozenset[str] | None
    _expanded: tuple[str, ...] | None  # every serial, built on first use (then iterated as is)

    def __init__(self, serials: Iterable[str] = ()) -> None:
        if isinstance(serials, SerialSet):
            self._items = serials._items
        else:
            if isinstance(serials, str):
                raise TypeError("SerialSet takes an iterable of serials, not one str")
            self._items = _encode(serials)
        self._len = sum(_size(i) for i in self._items)
        self._singles = None
        self._expanded = None
        if type(serials) is list or type(serials) is tuple:
            # The set iterates in the order given, so a list it was built from is its expansion
            # (an event is applied right after it is built: no need to expand the runs again).
            self._expanded = tuple(serials)

    # ----------------------------------------------------------------------- compact form
    @classmethod
    def from_compact(cls, data: Sequence[Any]) -> SerialSet:
        """The set whose :meth:`compact` form is ``data``; ``ValueError`` when it is malformed."""
        items: list[_Item] = []
        size = 0
        for item in data:
            if type(item) is str:
                items.append(item)
                size += 1
                continue
            if type(item) is not list or len(item) not in (3, 4):
                raise ValueError(f"a serial set item is a serial or [prefix, first, last(, exceptions)]: {item!r}")
            prefix, first, last = item[0], item[1], item[2]
            if (
                type(prefix) is not str or type(first) is not str or type(last) is not str
                or len(first) != len(last) or not _SUFFIX.fullmatch(first) or not _SUFFIX.fullmatch(last)
            ):
                raise ValueError(f"malformed serial run {item!r}")
            a, b = int(first), int(last)
            exceptions: tuple[int, ...] = ()
            if len(item) == 4:
                listed = item[3]
                if (
                    type(listed) is not list or len(set(listed)) != len(listed)
                    or any(type(n) is not int or not a < n < b for n in listed)
                ):
                    raise ValueError(f"malformed serial run {item!r}")
                exceptions = tuple(listed)
            if a > b:
                raise ValueError(f"malformed serial run {item!r}")
            run = _Run(prefix, a, b, len(first), exceptions)
            items.append(run)
            size += run.size
        out = cls.__new__(cls)
        out._items = tuple(items)
        out._len = size
        out._singles = None
        out._expanded = None
        return out

    def compact(self) -> list[Any]:
        return [i if isinstance(i, str) else i.compact() for i in self._items]

    def parts(self) -> Iterator[str | tuple[str, int, int, int, tuple[int, ...]]]:
        """The set as recorded: single serials, and runs as ``(prefix, width, first, last,
        exceptions)`` (what a read model keeping ranges takes without expanding them)."""
        for i in self._items:
            yield i if isinstance(i, str) else (i.prefix, i.width, i.first, i.last, i.exceptions)

    @property
    def runs(self) -> int:
        """How many runs (not single serials) the set holds."""
        return sum(1 for i in self._items if type(i) is not str)

    # ---------------------------------------------------------------------------- sequence
    def __len__(self) -> int:
        return self._len

    def _expand(self) -> tuple[str, ...]:
        expanded = self._expanded
        if expanded is None:
            serials: list[str] = []
            for item in self._items:
                if isinstance(item, str):
                    serials.append(item)
                else:
                    serials.extend(item.expand())
            expanded = self._expanded = tuple(serials)
        return expanded

    def __iter__(self) -> Iterator[str]:
        return iter(self._expand())

    def __contains__(self, serial: object) -> bool:
        if type(serial) is not str:
            return False
        singles = self._singles
        if singles is None:
            singles = self._singles = frozenset(i for i in self._items if isinstance(i, str))
        if serial in singles:
            return True
        return any(serial in i for i in self._items if isinstance(i, _Run))

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> SerialSet: ...

    def __getitem__(self, index: int | slice) -> str | SerialSet:
        if isinstance(index, slice):
            return SerialSet(self._expand()[index])
        return self._expand()[index]

    # ------------------------------------------------------------------------------ value
    def _key(self) -> tuple[Any, ...]:
        return tuple(i if isinstance(i, str) else i.key() for i in self._items)

    def __eq__(self, other: object) -> bool:
        """Equal when they name the same serials in the same order (however they are grouped)."""
        if not isinstance(other, SerialSet):
            return NotImplemented
        if self._key() == other._key():
            return True
        return self._len == other._len and all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"SerialSet.from_compact({self.compact()!r})"

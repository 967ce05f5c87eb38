"""The SQLite store of a study: one row per finished trial, written chunk by chunk.

Embedded SQLite (stdlib ``sqlite3``) in WAL mode; every chunk of finished trials
is one transaction, so a killed run loses at most the chunks still in flight and
never leaves half a chunk.  The experiment's definition is stored with the
schema version and checked whenever the store is reopened; every run records
its metadata (package versions, BLAS/Numba threads, host, start and end).
"""
import json
import os
import sqlite3
import time

__all__ = ["TrialStore", "SCHEMA_VERSION", "canonical"]

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL, ended REAL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    point TEXT NOT NULL, trial INTEGER NOT NULL, run_id INTEGER NOT NULL,
    result TEXT NOT NULL, PRIMARY KEY (point, trial));
"""


def canonical(value):
    """Canonical JSON text of ``value`` (sorted keys): the identity of a definition or key."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


class TrialStore:
    """A study's results on disk (or in memory when ``path`` is None).

    Parameters
    ----------
    path : str, path-like or None
        SQLite file; created when missing.  ``None`` keeps the results in memory.
    definition : dict
        JSON-serialisable definition of the experiment; a store holding another
        definition is refused.

    Raises
    ------
    ValueError
        The file is not a SQLite database, is corrupt, has another schema
        version, or holds another experiment.
    PermissionError
        The location cannot be written.
    """

    def __init__(self, path, definition):
        self.path = None if path is None else os.fspath(path)
        self.definition = definition
        target = ":memory:" if self.path is None else self.path
        if self.path is not None:
            folder = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(folder):
                raise ValueError(f"store {self.path}: the folder {folder} does not exist")
        try:
            existed = self.path is not None and os.path.exists(self.path)
            self.db = sqlite3.connect(target, timeout=30.0)
            if existed:
                check = self.db.execute("PRAGMA quick_check").fetchall()
                if check != [("ok",)]:
                    raise sqlite3.DatabaseError("; ".join(str(c[0]) for c in check[:3]))
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(_TABLES)
            self._check_definition()
        except sqlite3.DatabaseError as err:
            self._fail_open(err)

    # -- opening ------------------------------------------------------------------------
    def _fail_open(self, err):
        text = str(err)
        if isinstance(err, sqlite3.OperationalError) and ("readonly" in text or "unable to open" in text):
            raise PermissionError(f"store {self.path}: cannot create or write it here ({text}); "
                                  "choose a writable location") from err
        raise ValueError(f"store {self.path} is not a sparserec experiment store: it is not a "
                         f"SQLite database or it is corrupt ({text}); pass another path") from err

    def _check_definition(self):
        rows = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        mine = canonical(self.definition)
        if not rows:
            with self.db:
                self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                                    [("schema_version", str(SCHEMA_VERSION)), ("definition", mine)])
            return
        version = rows.get("schema_version")
        if version != str(SCHEMA_VERSION) or "definition" not in rows:
            raise ValueError(f"store {self.path} has schema version {version!r}; this sparserec "
                             f"writes version {SCHEMA_VERSION}: use another path")
        if rows["definition"] != mine:
            stored = json.loads(rows["definition"])
            diff = sorted(k for k in set(stored) | set(self.definition)
                          if canonical(stored.get(k)) != canonical(self.definition.get(k)))
            details = "; ".join(f"{k}: stored {canonical(stored.get(k))}, given "
                                f"{canonical(self.definition.get(k))}" for k in diff)
            raise ValueError(f"store {self.path} holds a different experiment ({details}); "
                             "use another store, or the same definition to resume")

    @staticmethod
    def stored_definition(path):
        """The definition kept in an existing store (to redraw or export it).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        dict
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"store {path} does not exist")
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                row = db.execute("SELECT value FROM meta WHERE key='definition'").fetchone()
            finally:
                db.close()
        except sqlite3.DatabaseError as err:
            raise ValueError(f"store {path} is not a sparserec experiment store ({err})") from err
        if row is None:
            raise ValueError(f"store {path} holds no experiment definition")
        return json.loads(row[0])

    # -- writing ------------------------------------------------------------------------
    def _write(self, sql, params=(), many=False):
        try:
            with self.db:            # one transaction: all or nothing
                cur = self.db.executemany(sql, params) if many else self.db.execute(sql, params)
            return cur
        except sqlite3.OperationalError as err:
            text = str(err)
            if "full" in text:
                raise OSError(f"store {self.path}: the disk is full ({text}); the trials "
                              "stored so far are intact, free space and run again to "
                              "resume") from err
            if "readonly" in text:
                raise PermissionError(f"store {self.path} cannot be written ({text})") from err
            raise

    def start_run(self, info):
        """Record the start of a run; returns its id.

        Parameters
        ----------
        info : dict
            Metadata (versions, threads, host, ...).

        Returns
        -------
        int
        """
        cur = self._write("INSERT INTO runs (started, info) VALUES (?, ?)",
                          (time.time(), canonical(info)))
        return cur.lastrowid

    def end_run(self, run_id):
        """Record the end of run ``run_id``.

        Parameters
        ----------
        run_id : int
        """
        self._write("UPDATE runs SET ended = ? WHERE run_id = ?", (time.time(), run_id))

    def add(self, rows, run_id):
        """Store finished trials in one transaction.

        Parameters
        ----------
        rows : list of (point, trial, result)
            ``point`` and ``result`` are JSON-serialisable dicts.
        run_id : int
        """
        self._write("INSERT INTO trials (point, trial, run_id, result) VALUES (?, ?, ?, ?)",
                    [(canonical(p), int(t), run_id, canonical(r)) for p, t, r in rows], many=True)

    # -- reading ------------------------------------------------------------------------
    def done(self):
        """Keys ``(canonical point, trial)`` of the stored trials.

        Returns
        -------
        set of (str, int)
        """
        return set(self.db.execute("SELECT point, trial FROM trials").fetchall())

    def rows(self):
        """Every stored trial as ``(point dict, trial, run_id, result dict)``, in key order.

        Returns
        -------
        list of tuple
        """
        cur = self.db.execute("SELECT point, trial, run_id, result FROM trials "
                              "ORDER BY point, trial")
        return [(json.loads(p), t, r, json.loads(res)) for p, t, r, res in cur]

    def runs(self):
        """Metadata of every run: ``(run_id, started, ended, info dict)``.

        Returns
        -------
        list of tuple
        """
        cur = self.db.execute("SELECT run_id, started, ended, info FROM runs ORDER BY run_id")
        return [(i, s, e, json.loads(info)) for i, s, e, info in cur]

    def close(self):
        """Close the connection."""
        self.db.close()

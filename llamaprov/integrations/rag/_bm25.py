"""Planning FTS5 full-text queries for the RAG store's BM25 search.

FTS5 scores every row that matches a query, so a query word found in most chunks makes BM25 cost
grow with the store while adding nothing to the ranking: FTS5's BM25 gives a term in more than half
the rows a zero weight. The planner looks up each query word's document frequency (with the index's
own tokenizer, so stems match) and keeps the rarest words within a budget of postings to score;
a query made only of such common words is ranked by its rarest word. Costs stay bounded: at most
``MAX_POSTINGS + POSTINGS_BUDGET`` rows are scored.
"""

from __future__ import annotations

import re
import sqlite3
import threading

TOKENIZER = "porter unicode61"
#: Postings (matching rows) scored per query, beyond the rarest word (ranking costs ~3-4 µs a row).
POSTINGS_BUDGET = 3000
#: The rarest word is used only if it matches at most this many rows; otherwise BM25 finds nothing
#: (such a word barely ranks anything and would cost tens of milliseconds).
MAX_POSTINGS = 10000

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORD_TEXT = (
    "a an and are as at be by can do does for from how i in is it its of on or that the this to "
    "was what when where which who why will with you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class QueryPlanner:
    """Builds the FTS5 ``MATCH`` expression for a free-text query against one index."""

    def __init__(self, vocab_table: str) -> None:
        self._vocab_table = vocab_table
        self._tok = sqlite3.connect(":memory:", check_same_thread=False)
        self._tok.execute(f"CREATE VIRTUAL TABLE q USING fts5(text, tokenize='{TOKENIZER}')")
        self._tok.execute("CREATE VIRTUAL TABLE qv USING fts5vocab(q, 'instance')")
        self._tok_lock = threading.Lock()
        self._df: dict[str, int] = {}  # stem -> document frequency, until invalidate()

    def invalidate(self) -> None:
        """Forget cached document frequencies (call whenever the index changed)."""
        self._df.clear()

    def close(self) -> None:
        """Release the tokenizer's in-memory database."""
        self._tok.close()

    def match(self, conn: sqlite3.Connection, query: str, n_rows: int) -> str | None:
        """The ``MATCH`` expression (quoted words OR-ed), or None when no word can score."""
        words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
        words = [w for w in words if w not in _STOPWORDS] or words
        if not words or n_rows == 0:
            return None
        stems = self._stems(words)
        found: list[tuple[int, str]] = []
        for word in words:
            df = max((self._doc_freq(conn, s) for s in stems.get(word, ())), default=0)
            if df > 0:  # absent words match nothing
                found.append((df, word))
        found.sort()
        informative = [(df, w) for df, w in found if df <= n_rows // 2]
        if not informative:  # only words that weigh (almost) nothing: rank by the rarest
            informative = found[:1]
        if informative and informative[0][0] > MAX_POSTINGS:
            return None
        kept: list[str] = []
        total = 0
        for df, word in informative:
            if kept and total + df > POSTINGS_BUDGET:
                break
            kept.append(word)
            total += df
        if not kept:
            return None
        return " OR ".join('"' + w.replace('"', '""') + '"' for w in kept)

    def _stems(self, words: list[str]) -> dict[str, list[str]]:
        """Each word's terms under the index tokenizer (a word like ``foo_bar`` gives two)."""
        with self._tok_lock, self._tok:
            self._tok.executemany(
                "INSERT INTO q(rowid, text) VALUES (?, ?)", list(enumerate(words, 1))
            )
            rows = self._tok.execute("SELECT doc, term FROM qv ORDER BY doc, offset").fetchall()
            self._tok.execute("DELETE FROM q")
        out: dict[str, list[str]] = {}
        for doc, term in rows:
            out.setdefault(words[doc - 1], []).append(term)
        return out

    def _doc_freq(self, conn: sqlite3.Connection, stem: str) -> int:
        """Rows containing ``stem`` (cached until :meth:`invalidate`)."""
        df = self._df.get(stem)
        if df is None:
            row = conn.execute(
                f"SELECT doc FROM {self._vocab_table} WHERE term = ?", (stem,)
            ).fetchone()
            df = self._df[stem] = int(row[0]) if row else 0
        return df

"""The audit hash chain in pure Python: a clean chain verifies; edits, deletions and reorders are named."""

from __future__ import annotations

from datetime import datetime, timedelta

from carelake.access.audit import GENESIS_HASH, AccessRecord, chain, check_chain, record_hash


def _rows(n: int) -> list[dict]:
    start = datetime(2026, 10, 1, 8, 0, 0, 123456)
    records = [AccessRecord(user_name=f"user{i % 3}", role="analyst", action="query", purpose="cohort sizing",
                            tables=["gold.person"], columns=["person_id", "year_of_birth"], rows_returned=i * 10,
                            query_text=f"select * from gold.person limit {i}", accessed_at=start + timedelta(minutes=i))
               for i in range(n)]
    return chain(records, 0, GENESIS_HASH)


def test_clean_chain_verifies_and_links():
    rows = _rows(5)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    assert all(rows[i]["prev_hash"] == rows[i - 1]["record_hash"] for i in range(1, 5))
    assert check_chain(rows).ok
    # appending after the head continues the same chain
    more = chain([AccessRecord("u", "analyst", "query", "p")], rows[-1]["seq"], rows[-1]["record_hash"])
    assert check_chain(rows + more).ok


def test_edit_is_detected_at_the_edited_record():
    rows = _rows(5)
    rows[2]["rows_returned"] = 0
    result = check_chain(rows)
    assert not result.ok and result.first_broken_seq == 3 and "edited" in result.reason


def test_edit_with_recomputed_hash_breaks_the_next_link():
    rows = _rows(5)
    rows[1]["purpose"] = "something else"
    rows[1]["record_hash"] = record_hash(rows[1])
    result = check_chain(rows)
    assert not result.ok and result.first_broken_seq == 3


def test_deletion_and_reorder_are_detected():
    rows = _rows(5)
    deleted = check_chain(rows[:2] + rows[3:])
    assert not deleted.ok and deleted.first_broken_seq == 3 and "deleted" in deleted.reason
    swapped = [dict(r) for r in rows]
    swapped[1]["seq"], swapped[2]["seq"] = 3, 2  # reordered: seq swapped, hashes kept
    assert not check_chain(swapped).ok
    forked = rows + [dict(rows[-1], record_hash="f" * 64)]
    assert not check_chain(forked).ok

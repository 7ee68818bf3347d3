"""Encryption of personal data at rest: versioned data keys, field ciphertexts, blind indexes.

Data keys (AES-256) are stored wrapped by a key-encryption key derived from the master key; one
version is active at a time. A field ciphertext is ``0x01 ‖ version (4 bytes) ‖ nonce ‖ AES-GCM``
with the associated data ``table.column:row-uid``, so a ciphertext copied to another row or column
fails to decrypt. Blind indexes are HMAC-SHA256 of the normalised value under a per-field key, for
exact lookup without storing the value.

Writers read the active version with a share lock held to the end of their transaction; rotation
takes that row's exclusive lock to switch versions, so once a rotation has begun no writer can
still be encrypting under the old version, and the old key is destroyed only when no row uses it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary, String, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from fincare.platform import clock, crypto
from fincare.platform.config import ConfigurationError
from fincare.platform.db import Base, insert_on_conflict, unit_of_work

FORMAT = 1
_HEADER = 5  # format byte + 4-byte version
_NONCE = 12


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRING = "retiring"  # rows are being re-encrypted away from it
    RETIRED = "retired"  # destroyed: no row uses it any more


class DataKey(Base):
    __tablename__ = "data_key"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class UndecryptableError(Exception):
    """A ciphertext failed authentication: altered, moved to another row, or its key is gone."""


def _kek() -> AESGCM:
    return AESGCM(crypto.derive_key("data-key-wrapping"))


def _wrap(version: int, key: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + _kek().encrypt(nonce, key, f"data_key:{version}".encode())


def _unwrap(version: int, wrapped: bytes) -> bytes:
    try:
        return _kek().decrypt(wrapped[:_NONCE], wrapped[_NONCE:], f"data_key:{version}".encode())
    except InvalidTag:
        raise ConfigurationError(
            f"the master key does not open data key version {version} of this database: FINCARE_MASTER_KEY "
            "or FINCARE_MASTER_KEY_FILE is not the key its personal data was encrypted with") from None


def check_master_key(session: Session) -> None:
    """Refuse a master key that does not open every data key still in use (ConfigurationError).

    A server started with another institution's key, or a typo'd file, would otherwise answer
    every search with nothing and every write with an error; a rotation would wrap its new key
    with it and leave the database with keys no single master key opens.
    """
    for row in session.execute(select(DataKey).where(DataKey.wrapped.is_not(None))).scalars():
        assert row.wrapped is not None
        _unwrap(row.version, row.wrapped)


class _Keyring:
    """Unwrapped keys of this process, loaded on first use and on meeting an unknown version."""

    def __init__(self) -> None:
        self._keys: dict[int, tuple[AESGCM, bytes]] = {}
        self._lock = threading.Lock()

    def _load(self, session: Session, version: int) -> tuple[AESGCM, bytes]:
        entry = self._keys.get(version)
        if entry is None:
            with self._lock:
                row = session.get(DataKey, version)
                if row is None or row.wrapped is None:
                    raise UndecryptableError(f"data key version {version} does not exist or was retired")
                raw = _unwrap(version, row.wrapped)
                entry = self._keys[version] = (AESGCM(raw), raw)
        return entry

    def get(self, session: Session, version: int) -> AESGCM:
        return self._load(session, version)[0]

    def raw(self, session: Session, version: int) -> bytes:
        """The data key's bytes, for a `Sealer` handed to a worker process."""
        return self._load(session, version)[1]

    def forget(self) -> None:
        with self._lock:
            self._keys.clear()


keyring = _Keyring()


def active_version(session: Session) -> int:
    """The version to encrypt with in this transaction (share-locked until it ends; created if none)."""
    cached = session.info.get("fincare_key_version")
    if cached is not None:
        return int(cached)
    version = session.execute(
        select(DataKey.version).where(DataKey.state == KeyState.ACTIVE).with_for_update(read=True)
    ).scalar_one_or_none()
    if version is None:
        version = _create_first_key(session)
    session.info["fincare_key_version"] = version
    return version


def _create_first_key(session: Session) -> int:
    first = insert_on_conflict(session, DataKey).values(version=1, wrapped=_wrap(1, AESGCM.generate_key(256)),
                                                        state=KeyState.ACTIVE, created_at=clock.now())
    session.execute(first.on_conflict_do_nothing(index_elements=["version"]))
    return int(session.execute(
        select(DataKey.version).where(DataKey.state == KeyState.ACTIVE).with_for_update(read=True)
    ).scalar_one())


UID_TIME = 6  # bytes of a row uid that tell when it was made; the other 10 are random


def uid_prefix(at: datetime) -> bytes:
    """The first `UID_TIME` bytes of the uids made at `at`: Unix time in milliseconds, big-endian,
    as in a UUIDv7 (RFC 9562). New rows' uids then sort after older ones, so the unique index on
    them grows at its right edge, in pages that are in memory, instead of taking a random page
    per insert: with random uids, at a million customers, those pages no longer fitted in
    PostgreSQL's buffers and it spent a fifth more CPU per imported row (BENCHMARKS.md)."""
    return ((at - _UNIX_EPOCH) // _MILLISECOND).to_bytes(UID_TIME, "big")


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def uid_at(at: datetime) -> bytes:
    """The uid of a row made at `at` (its `created_at`), which binds its ciphertexts to it (`aad`):
    unique (80 random bits per millisecond), not secret (it tells when the row was made, as its
    creation time does)."""
    return uid_prefix(at) + secrets.token_bytes(16 - UID_TIME)


def new_uid() -> bytes:
    """`uid_at` now: a column default, for rows made without one."""
    return uid_at(datetime.now(UTC))


def aad(table: str, column: str, uid: bytes) -> bytes:
    return f"{table}.{column}:".encode() + uid


def encrypt(session: Session, plaintext: str, *, table: str, column: str, uid: bytes,
            version: int | None = None) -> bytes:
    """Encrypt one field value for one row."""
    version = version if version is not None else active_version(session)
    nonce = os.urandom(_NONCE)
    sealed = keyring.get(session, version).encrypt(nonce, plaintext.encode(), aad(table, column, uid))
    return bytes([FORMAT]) + version.to_bytes(4, "big") + nonce + sealed


def version_of(ciphertext: bytes) -> int:
    return int.from_bytes(ciphertext[1:_HEADER], "big")


def decrypt(session: Session, ciphertext: bytes, *, table: str, column: str, uid: bytes) -> str:
    """Decrypt one field value; UndecryptableError if it was altered, moved, or its key retired."""
    if not ciphertext or ciphertext[0] != FORMAT:
        raise UndecryptableError(f"{table}.{column}: not a FinCare ciphertext")
    key = keyring.get(session, version_of(ciphertext))
    body = ciphertext[_HEADER:]
    try:
        return key.decrypt(body[:_NONCE], body[_NONCE:], aad(table, column, uid)).decode()
    except InvalidTag:
        raise UndecryptableError(f"{table}.{column}: ciphertext does not belong to this row") from None


def blind_index(field: str, normalised: str) -> bytes:
    """16-byte keyed digest of a normalised value, for exact lookup (never reversible)."""
    return crypto.keyed_digest(f"blind-index/{field}", normalised.encode())[:16]


class Sealer:
    """`encrypt` and `blind_index` for bulk writers: same bytes, a fraction of the per-value cost.

    Holds one data-key version's key and the blind-index keys, so nothing is looked up per value;
    the caller supplies the nonce (one `os.urandom` call can serve a whole row) and the AAD prefix
    (`aad_prefix`, computed once per column). It needs no session or settings, and pickles, so a
    worker process can encrypt with it. Whoever writes the result must still hold the share lock
    of `active_version` and check that it equals `version` (see the module docstring).
    """

    INDEX_FIELDS = ("id_number", "credit_code", "phone", "email", "card_number")

    def __init__(self, version: int, key: bytes, index_keys: dict[str, bytes]) -> None:
        self.version = version
        self._key = key
        self._index_keys = dict(index_keys)
        self._aead = AESGCM(key)
        self.header = bytes([FORMAT]) + version.to_bytes(4, "big")
        # HMAC-SHA256 (RFC 2104) with the inner and outer pads hashed once: a copy per value
        # instead of the key schedule, identical digests to `crypto.keyed_digest`
        self._pads: dict[str, tuple[Any, Any]] = {}
        for field, index_key in self._index_keys.items():
            block = (hashlib.sha256(index_key).digest() if len(index_key) > 64 else index_key).ljust(64, b"\0")
            self._pads[field] = (hashlib.sha256(bytes(b ^ 0x36 for b in block)),
                                 hashlib.sha256(bytes(b ^ 0x5C for b in block)))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Sealer, (self.version, self._key, self._index_keys))

    @staticmethod
    def aad_prefix(table: str, column: str) -> bytes:
        """What `aad` puts before the row uid."""
        return f"{table}.{column}:".encode()

    def seal(self, plaintext: str, aad_prefix: bytes, uid: bytes, nonce: bytes) -> bytes:
        """Exactly what `encrypt` returns for this version, with a caller-supplied 12-byte random nonce."""
        return self.header + nonce + self._aead.encrypt(nonce, plaintext.encode(), aad_prefix + uid)

    def blind_index(self, field: str, normalised: str) -> bytes:
        """Exactly what `blind_index` returns."""
        inner, outer = self._pads[field]
        inner = inner.copy()
        inner.update(normalised.encode())
        outer = outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:16]  # type: ignore[no-any-return]


def sealer(session: Session, version: int | None = None) -> Sealer:
    """A `Sealer` for `version` (default: the active version, share-locked in this transaction)."""
    version = version if version is not None else active_version(session)
    return Sealer(version, keyring.raw(session, version),
                  {field: crypto.derive_key(f"blind-index/{field}") for field in Sealer.INDEX_FIELDS})


# -- rotation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedTable:
    """A table holding ciphertexts: which columns, the row-uid column and the key-version column
    (rotation walks the rows by their integer primary key `id`)."""

    model: type[Base]
    uid: InstrumentedAttribute[bytes]
    version: InstrumentedAttribute[int]
    columns: tuple[str, ...]


_tables: list[EncryptedTable] = []


def register(table: EncryptedTable) -> None:
    """Domains declare their encrypted tables so that rotation re-encrypts them."""
    if all(t.model is not table.model for t in _tables):
        _tables.append(table)


def encrypted_tables() -> Sequence[EncryptedTable]:
    return tuple(_tables)


def begin_rotation(session: Session) -> int:
    """Activate a new data-key version (or, if a rotation was interrupted, keep its target).

    Waits for every transaction still encrypting under the old version, thanks to the row lock.
    Nothing changes unless the master key opens every data key in use (`check_master_key`).
    """
    check_master_key(session)
    retiring = session.execute(select(func.count()).select_from(DataKey)
                               .where(DataKey.state == KeyState.RETIRING)).scalar_one()
    current = session.execute(select(DataKey).where(DataKey.state == KeyState.ACTIVE)
                              .with_for_update()).scalar_one_or_none()
    if current is None:
        return _create_first_key(session)
    if retiring:
        return current.version  # resume the interrupted rotation towards the same version
    current.state = KeyState.RETIRING
    new_version = current.version + 1
    session.add(DataKey(version=new_version, wrapped=_wrap(new_version, AESGCM.generate_key(256)),
                        state=KeyState.ACTIVE, created_at=clock.now()))
    session.flush()
    return new_version


def count_stale(session: Session, target: int) -> int:
    """Rows, over all encrypted tables, still under an older version than `target` (versions only grow)."""
    return sum(session.execute(select(func.count()).select_from(t.model).where(t.version < target)).scalar_one()
               for t in _tables)


def reencrypt_batch(session: Session, table: EncryptedTable, target: int, *, after: int | None = None,
                    limit: int = 1000) -> tuple[int, int | None]:
    """Re-encrypt up to `limit` rows of `table` under `target`, in primary-key order after `after`;
    returns how many were done and the key to continue after (None when none were left).

    The walk goes along the primary key, so a whole pass reads each row once and the key-version
    column needs no index (one would cost every insert an index entry). Rows are locked (SKIP
    LOCKED) so that writers and a second rotator are never blocked for long; a row skipped now is
    taken by a later pass.
    """
    model: Any = table.model
    key = model.id
    query = select(model).where(table.version < target)
    if after is not None:
        query = query.where(key > after)
    rows = session.execute(query.order_by(key).limit(limit).with_for_update(skip_locked=True)).scalars().all()
    for row in rows:
        reencrypt_row(session, row, target)
    session.flush()
    return len(rows), (rows[-1].id if rows else None)


def reencrypt_row(session: Session, row: Any, target: int) -> None:
    """Bring every ciphertext of one row under `target`, then record that version on the row.

    A writer that changes some fields of a row must call this before marking the row with the
    active version, or the fields it left alone would stay under a key rotation then destroys.
    """
    table = next(t for t in _tables if isinstance(row, t.model))
    name = table.model.__tablename__
    uid = getattr(row, table.uid.key)
    for column in table.columns:
        blob = getattr(row, column)
        if blob is not None and version_of(blob) != target:
            clear = decrypt(session, blob, table=name, column=column, uid=uid)
            setattr(row, column, encrypt(session, clear, table=name, column=column, uid=uid, version=target))
    setattr(row, table.version.key, target)


def retire_unused(session: Session, target: int) -> list[int]:
    """Destroy every retiring key that no row uses any more; returns the versions retired."""
    if count_stale(session, target):
        return []
    versions = list(session.execute(select(DataKey.version).where(DataKey.state == KeyState.RETIRING)).scalars())
    if versions:
        session.execute(update(DataKey).where(DataKey.version.in_(versions))
                        .values(state=KeyState.RETIRED, wrapped=None, retired_at=clock.now()))
    keyring.forget()
    return versions


def key_versions(session: Session) -> list[DataKey]:
    return list(session.execute(select(DataKey).order_by(DataKey.version)).scalars())



@dataclass(frozen=True)
class RotationResult:
    version: int
    reencrypted: int
    retired: list[int]


def rotate(*, batch: int = 1000, progress: Callable[[int, int], None] | None = None) -> RotationResult:
    """Move every ciphertext to a new data-key version, online, then destroy the old keys.

    Each batch is its own transaction, so reads and writes go on meanwhile; interrupted at any
    point (even by kill -9) and run again, it resumes towards the same version. `progress(done,
    total)` is called after every batch.
    """
    with unit_of_work() as session:
        target = begin_rotation(session)
    with unit_of_work(read_only=True) as session:
        total = count_stale(session, target)
    done = 0
    if progress:
        progress(done, total)
    while True:
        for table in encrypted_tables():
            after: int | None = None
            while True:
                with unit_of_work() as session:
                    moved, after = reencrypt_batch(session, table, target, after=after, limit=batch)
                if not moved:
                    break
                done += moved
                if progress:
                    progress(done, max(total, done))
        with unit_of_work(read_only=True) as session:
            if count_stale(session, target) == 0:
                break
        time.sleep(0.2)  # the rows left were locked by writers during the pass: let them finish
    with unit_of_work() as session:
        retired = retire_unused(session, target)
    return RotationResult(version=target, reencrypted=done, retired=retired)

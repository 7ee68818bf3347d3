"""Cryptographic primitives: keys derived from the master key, AEAD for secrets, token hashing.

Every purpose gets its own HKDF-derived key, so a key used to sign cookies can never decrypt a
TOTP secret. Personal-data encryption with versioned data keys builds on `derive_key`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fincare.platform.config import Settings, get_settings

_NONCE = 12


@lru_cache(maxsize=64)
def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"fincare/{purpose}".encode()).derive(master)


def derive_key(purpose: str) -> bytes:
    """A 32-byte key for one purpose (e.g. ``"totp"``, ``"cookies"``), derived from the master key."""
    return _derive(_master(get_settings()), purpose)


_master_cache: tuple[Settings, bytes] | None = None


def _master(settings: Settings) -> bytes:
    # Decoded once per Settings object; reset_settings() replaces the object when the environment changes.
    global _master_cache
    if _master_cache is None or _master_cache[0] is not settings:
        _master_cache = (settings, settings.master_key_bytes())
    return _master_cache[1]


@lru_cache(maxsize=64)
def _hmac_for(master: bytes, purpose: str) -> hmac.HMAC:
    return hmac.new(_derive(master, purpose), digestmod=hashlib.sha256)


def seal(purpose: str, plaintext: bytes, *, aad: bytes) -> bytes:
    """AES-256-GCM encrypt; `aad` binds the ciphertext to where it is stored."""
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(derive_key(purpose)).encrypt(nonce, plaintext, aad)


def unseal(purpose: str, ciphertext: bytes, *, aad: bytes) -> bytes:
    """Decrypt what `seal` produced; raises `cryptography.exceptions.InvalidTag` if altered or moved."""
    return AESGCM(derive_key(purpose)).decrypt(ciphertext[:_NONCE], ciphertext[_NONCE:], aad)


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy token: enough to store it, no salt needed since tokens are random."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_digest(purpose: str, value: bytes) -> bytes:
    """HMAC-SHA256 of `value` under the purpose key (blind indexes, request fingerprints)."""
    mac = _hmac_for(_master(get_settings()), purpose).copy()
    mac.update(value)
    return mac.digest()

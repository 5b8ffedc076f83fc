"""``cvdsr verify-certificate FILE [--key PEM | --jwks URL]``: seal and signature of an erasure certificate.

With no flag the key is the one this installation signs with (``CVDSR_SIGNING__*`` from the
environment or ``local.settings.json``): the local PEM's public key, or the Key Vault key's public
JWK. A JWKS is fetched over HTTP(S) and its key picked by the certificate's kid. Exit 0: verified;
1: the seal, the signature or the key does not match; 2: the file or the key cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx

from local.requests_cli import local_setting
from shared import signing
from shared.erase import verify_certificate as vc
from shared.settings import SettingsError, app_settings

T = TypeVar("T")


class KeyUnavailable(Exception):
    """No key to verify with (a clear sentence: which flag or setting, and why)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="an erasure-certificate.json")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--key", type=Path, help="PEM public key (or private key: its public half is used)")
    source.add_argument("--jwks", help="URL of a JWKS (application/jwk-set+json); the key is picked by kid")


def _installation_signer() -> signing.Signer:
    environ = {name: value for name in signing.SETTINGS if (value := local_setting(name))}
    if not environ and signing.DEV_KEY.is_file():
        # Nothing configured: the development host of this directory signs with its development key.
        environ = {"CVDSR_SIGNING__KEY_FILE": str(signing.DEV_KEY.resolve())}
    if not environ:
        raise KeyUnavailable(
            "this installation signs with no key (CVDSR_SIGNING__KEY_FILE / CVDSR_SIGNING__KEY_VAULT_KEY_ID "
            f"unset, no development key {signing.DEV_KEY}); pass --key PEM or --jwks URL"
        )
    try:
        signer = signing.configured_signer(app_settings(environ))
    except (SettingsError, signing.SigningError) as error:
        raise KeyUnavailable(str(error)) from None
    assert signer is not None
    return signer


def _jwks(url: str) -> Any:
    try:
        answer = httpx.get(url, timeout=30, follow_redirects=False)
        answer.raise_for_status()
        return answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise KeyUnavailable(f"--jwks: could not fetch a JWKS from {url}: {type(error).__name__}") from None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end, also when called from code that has an event loop running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _public_jwk(signer: signing.Signer) -> dict[str, str]:
    try:
        return await signer.public_jwk()
    finally:
        await signer.close()


def resolve_key(document: dict[str, Any], key_file: Path | None, jwks_url: str | None) -> tuple[Any, str | None]:
    """(public key, a problem with it). The problem is about the key: a kid that is not this key's."""
    kid = vc.signed_kid(document)
    if key_file is not None:
        try:
            return signing.key_from_pem(key_file.read_bytes()), None
        except OSError:
            raise KeyUnavailable(f"--key: cannot read {key_file}") from None
        except signing.VerificationError as error:
            raise KeyUnavailable(str(error)) from None
    if jwks_url is not None:
        if kid is None:
            return None, None
        try:
            return signing.key_from_jwks(_jwks(jwks_url), kid), None
        except signing.VerificationError as error:
            return None, str(error)
    signer = _installation_signer()
    if kid is not None and kid != signer.kid:
        if not (isinstance(signer, signing.KeyVaultSigner) and signer.same_key(kid)):
            return None, f"the key does not match: signed by {kid!r}, this installation signs with {signer.kid!r}"
        signer = signer.version(kid)  # an earlier version of the installation's key (before a rotation)
    try:
        jwk = _run(_public_jwk(signer))
    except Exception as error:  # the vault's SDK raises many kinds; say which, never a traceback
        raise KeyUnavailable(f"could not read this installation's public key: {type(error).__name__}") from None
    return signing.key_from_jwk(jwk), None


def verify_file(path: Path, key_file: Path | None = None, jwks_url: str | None = None) -> vc.Result:
    """Read, check and return the verdict (``MalformedCertificate`` / ``KeyUnavailable`` when it cannot)."""
    try:
        data = path.read_bytes()
    except OSError:
        raise vc.MalformedCertificate(f"cannot read {path}") from None
    document = vc.parse(data)
    try:
        key, problem = resolve_key(document, key_file, jwks_url)
    except signing.VerificationError as error:  # the JWS header itself does not parse
        key, problem = None, str(error)
    result = vc.check(document, key)
    if problem:
        result.problems.insert(0, problem)
    return result


def run_from_args(args: argparse.Namespace) -> int:
    try:
        result = verify_file(args.file, args.key, args.jwks)
    except (vc.MalformedCertificate, KeyUnavailable) as error:
        print(f"verify-certificate: {args.file}: {error}", file=sys.stderr)
        return 2
    for line in result.summary():
        print(line)
    if not result.ok:
        print(f"verify-certificate: {args.file}: NOT VERIFIED: {'; '.join(result.problems)}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m local.certificate_cli")
    add_arguments(parser)
    sys.exit(run_from_args(parser.parse_args()))

"""Which AWS credentials a config selects: ``aws.access_key_id`` and ``aws.secret_access_key``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

CredentialSource = Literal["default", "iam", "env", "static"]


@dataclass(frozen=True)
class AwsCredentials:
    """How to authenticate: the default chain, the EC2 role, the AWS_* env vars, or static keys."""

    source: CredentialSource
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None


def _credentials(key_id: SecretStr | None, secret: SecretStr | None) -> AwsCredentials:
    """The credential source a key pair selects; ValueError (naming no value) if inconsistent."""
    if key_id is None and secret is None:
        return AwsCredentials("default")
    if secret is None:
        raise ValueError("is required when aws.access_key_id is set")
    if key_id is None:
        raise ValueError("is set but aws.access_key_id is not")
    plain = (key_id.get_secret_value(), secret.get_secret_value())
    for keyword in ("default", "iam", "env"):
        if keyword in plain:
            if plain != (keyword, keyword):
                raise ValueError(f"must both be {keyword} when either is (or both literal keys)")
            return AwsCredentials(keyword)
    return AwsCredentials("static", key_id, secret)

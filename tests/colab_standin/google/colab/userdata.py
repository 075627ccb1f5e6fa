"""`google.colab.userdata`: the secrets panel, read from `$COLAB_STANDIN_SECRETS` (JSON)."""

import json
import os

SECRETS_ENV = "COLAB_STANDIN_SECRETS"


class SecretNotFoundError(Exception):
    """As Colab's: no secret of that name."""

    def __init__(self, key):
        super().__init__(f"Secret {key} does not exist.")


class NotebookAccessError(Exception):
    """As Colab's: the secret exists but this notebook was not granted access to it."""


def get(key):
    """The secret `key`'s value.

    Raises:
        SecretNotFoundError: no secret of that name.
    """
    secrets = json.loads(os.environ.get(SECRETS_ENV) or "{}")
    if key not in secrets:
        raise SecretNotFoundError(key)
    return secrets[key]

"""How one-time passwords are stored.

A one-time password (a new account, a reset: :func:`central.accounts.services.one_time_password`) is 96 random bits,
which no number of guesses finds; PBKDF2's million iterations protect passwords people choose, and cost half a
second of a CPU each. A one-time password is therefore stored with PBKDF2 at ``ONE_TIME_ITERATIONS``, so HR can open
a whole plant's accounts in one go; it is listed after the default hasher in ``PASSWORD_HASHERS``, so Django stores
the password again with the default's full strength at its first use, and the person's own password, set right
after, has it anyway.
"""
from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

ONE_TIME_ITERATIONS = 1_000


class OneTimePasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_one_time"
    iterations = ONE_TIME_ITERATIONS


def one_time_hash(password: str) -> str:
    """``password`` (a one-time password, random) as it is stored."""
    return make_password(password, hasher=OneTimePasswordHasher())

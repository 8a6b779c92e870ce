"""Public namespace for OAuth logins: the types, the credential store and the flow building blocks.

``syc.OAuth``, ``syc.OAuthCredentials``, ``syc.login`` / ``syc.alogin`` / ``syc.logout`` and
``syc.CredentialStore`` are also at the top level; this namespace adds what a login function is
written with (PKCE, the redirect receiver, form posts, the device-code grant) and
:func:`login_providers` (which providers have a login).
"""

from __future__ import annotations

from sycophant_py._oauth import (
    LoginCallbacks,
    OAuth,
    OAuthCredentials,
    alogin,
    login,
    login_providers,
    logout,
)
from sycophant_py._oauth_flows import CallbackServer, apost_form, device_code_login, pkce_pair, post_form
from sycophant_py._store import CredentialStore, StoreTransaction, default_path

__all__ = [
    "CallbackServer",
    "CredentialStore",
    "LoginCallbacks",
    "OAuth",
    "OAuthCredentials",
    "StoreTransaction",
    "alogin",
    "apost_form",
    "default_path",
    "device_code_login",
    "login",
    "login_providers",
    "logout",
    "pkce_pair",
    "post_form",
]

"""ACL users and password redaction through the Python binding (TLS is
covered by core/tests/security.rs: the binding only passes the config tree)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

import nearcache

PASSWORD = "pw-SENTINEL-123"


@pytest.fixture
def acl_user(raw: redis.Redis) -> Iterator[str]:
    """A user limited to nc:* keys and what a cache needs."""
    user = f"ncpy{uuid.uuid4().hex[:8]}"
    raw.acl_setuser(
        user,
        enabled=True,
        passwords=[f"+{PASSWORD}"],
        keys=["nc:*"],
        categories=["+@read", "+@write", "+@connection"],
    )
    yield user
    raw.acl_deluser(user)


def test_acl_user_from_config_fields(url: str, acl_user: str) -> None:
    c = nearcache.Cache(url, redis={"username": acl_user, "password": PASSWORD})
    try:
        c.set("nc:py", b"1")
        assert c.get("nc:py") == b"1"
        with pytest.raises(nearcache.AuthError) as info:
            c.get("other:py")
        assert info.value.code == "NC_AUTH"
        assert "other:py" in str(info.value)
        assert c.get("nc:py") == b"1"
        shown = [c.config_json(), repr(c), str(c.stats()), c.stats_prometheus()]
        assert all(PASSWORD not in text for text in shown)
        assert '"password": "***"' in c.config_json()
    finally:
        c.close()


def test_wrong_password_is_auth_error_without_the_password(url: str, acl_user: str) -> None:
    wrong = url.replace("redis://", f"redis://{acl_user}:x{PASSWORD}@")
    c = nearcache.Cache(wrong)
    try:
        with pytest.raises(nearcache.AuthError) as info:
            c.connect()
        assert "WRONGPASS" in str(info.value)
        texts = [str(info.value), repr(info.value), c.config_json(), repr(c)]
        assert all("SENTINEL" not in text for text in texts), texts
    finally:
        c.close()
    with pytest.raises(nearcache.ConfigError) as config_info:
        nearcache.Cache(url.replace("redis://", f"redis://u:{PASSWORD}@") + ":bad")
    assert "SENTINEL" not in str(config_info.value)

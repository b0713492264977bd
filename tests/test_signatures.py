import time

import pytest

from starter.signatures import (
    SignatureError,
    sign_chatwoot,
    sign_pagerduty,
    verify_chatwoot,
    verify_pagerduty,
    verify_token,
)

BODY = b'{"event":"conversation_created","id":1}'


def test_chatwoot_signature_roundtrip():
    h = sign_chatwoot("s3cret", BODY)
    verify_chatwoot("s3cret", BODY, h["X-Chatwoot-Timestamp"], h["X-Chatwoot-Signature"])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h, b: ("other", b, h["X-Chatwoot-Timestamp"], h["X-Chatwoot-Signature"]),
        lambda h, b: ("s3cret", b + b" ", h["X-Chatwoot-Timestamp"], h["X-Chatwoot-Signature"]),
        lambda h, b: ("s3cret", b, None, h["X-Chatwoot-Signature"]),
        lambda h, b: ("s3cret", b, "abc", h["X-Chatwoot-Signature"]),
    ],
)
def test_chatwoot_signature_rejects(mutate):
    h = sign_chatwoot("s3cret", BODY)
    with pytest.raises(SignatureError):
        verify_chatwoot(*mutate(h, BODY))


def test_chatwoot_stale_timestamp_rejected():
    old = int(time.time()) - 301
    h = sign_chatwoot("s3cret", BODY, timestamp=old)
    with pytest.raises(SignatureError, match="stale"):
        verify_chatwoot("s3cret", BODY, h["X-Chatwoot-Timestamp"], h["X-Chatwoot-Signature"])


def test_token_and_pagerduty():
    verify_token("tok", "tok")
    with pytest.raises(SignatureError):
        verify_token("tok", "nope")
    verify_pagerduty("pd", BODY, "v1=deadbeef," + sign_pagerduty("pd", BODY))
    with pytest.raises(SignatureError):
        verify_pagerduty("pd", BODY, sign_pagerduty("other", BODY))

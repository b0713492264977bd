import structlog

from infra.logging import configure_logging


def test_secret_keys_are_redacted(capsys):
    configure_logging("json", "info")
    structlog.get_logger("t").info(
        "calling", api_token="TOPSECRET", routing_key="RKEY", ticket="ticket-1-2"
    )
    err = capsys.readouterr().err
    assert "TOPSECRET" not in err and "RKEY" not in err
    assert '"ticket": "ticket-1-2"' in err

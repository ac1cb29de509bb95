"""billing_client.crypto: masked secrets and Fernet at rest."""

import pytest

from billing_client.crypto import ApiKey, CardNumber, CryptoError, Cvc, Login, Secret, Vault

KEY = "sk_test_51HxAbCdEfGhIjKlMnOpwxyz"


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        (ApiKey(KEY), "sk_test_…wxyz"),
        (ApiKey("sk_live_0123456789abcd"), "sk_live_…abcd"),
        (ApiKey("rk_test_0123456789abcd"), "rk_test_…abcd"),
        (ApiKey("nonsense"), "•••••"),
        (Login("demo-login"), "•••••"),
        (CardNumber("4242424242424242"), "•••• 4242"),
        (Cvc("123"), "•••••"),
    ],
)
def test_secrets_never_print_themselves(secret: Secret, masked: str) -> None:
    assert str(secret) == masked
    assert masked in repr(secret)
    assert f"{secret}" == masked
    assert secret.reveal() not in repr(secret) + str(secret) + f"{[secret]}"


@pytest.mark.parametrize(
    ("key", "mode", "publishable"),
    [
        ("sk_test_abc", "test", False),
        ("rk_live_abc", "live", False),
        ("pk_test_abc", "test", True),
        ("whatever", None, False),
    ],
)
def test_key_mode(key: str, mode: str | None, publishable: bool) -> None:
    assert ApiKey(key).mode == mode
    assert ApiKey(key).publishable is publishable


def test_vault_round_trip_and_ciphertext_hides_plaintext() -> None:
    vault = Vault(Secret(Vault.generate_key()))
    sealed = vault.seal(ApiKey(KEY))
    assert KEY not in sealed
    assert vault.open(sealed) == KEY
    doc = vault.seal_json({"number": CardNumber("4242424242424242"), "exp_month": 12})
    assert "4242424242424242" not in doc
    assert vault.open_json(doc) == {"number": "4242424242424242", "exp_month": 12}


def test_vault_refuses_to_store_a_cvc() -> None:
    vault = Vault(Secret(Vault.generate_key()))
    with pytest.raises(CryptoError):
        vault.seal_json({"cvc": "123"})
    with pytest.raises(CryptoError):
        vault.seal_json({"card": {"security": Cvc("123")}})


def test_wrong_key_cannot_open() -> None:
    sealed = Vault(Secret(Vault.generate_key())).seal(ApiKey(KEY))
    with pytest.raises(CryptoError):
        Vault(Secret(Vault.generate_key())).open(sealed)


def test_bad_key_material_is_refused() -> None:
    with pytest.raises(CryptoError, match="Fernet key"):
        Vault(Secret("not-a-fernet-key"))


def test_fingerprint_is_keyed_and_stable() -> None:
    a, b = Vault(Secret(Vault.generate_key())), Vault(Secret(Vault.generate_key()))
    body = {"amount": "10.00", "card": CardNumber("4242424242424242")}
    assert a.fingerprint(body) == a.fingerprint(dict(reversed(body.items())))
    assert a.fingerprint(body) != b.fingerprint(body)
    assert a.fingerprint(body) != a.fingerprint({**body, "amount": "10.01"})
    assert "4242" not in a.fingerprint(body)

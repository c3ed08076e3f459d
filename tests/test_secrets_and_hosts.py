"""Secrets, hosts, production settings and the admin login (issue 8, "secrets-hosts").

Settings are read once per process, so what depends on the environment is checked in a
subprocess started with exactly the environment under test, as web, worker and beat would be.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client

from config.keyfiles import read_or_create_key
from core.credentials import decrypt_secret, encrypt_secret
from invoicing.models import Invoice
from jobs.models import InvoiceJob
from tests import factories
from tests.api_helpers import JOBS_URL, assert_error, job_url

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OLD_PUBLIC_KEY = "django-insecure-local-demo-key-set-SECRET_KEY-in-production"
# What the service reads from the environment; the subprocesses get only what a test gives them.
CONTROLLED = {
    "SECRET_KEY", "SECRET_KEY_FALLBACKS", "CREDENTIALS_ENCRYPTION_KEYS", "REQUIRE_ENV_SECRETS", "DATABASE_URL",
    "TEST_DATABASE_NAME", "PUBLIC_BASE_URL", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "VAR_DIR", "STATIC_ROOT",
    "MEDIA_ROOT", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "DEBUG", "TRUSTED_PROXY_COUNT",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
}  # fmt: skip


def new_secret_key() -> str:
    import secrets

    return secrets.token_urlsafe(64)


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


def production_env() -> dict[str, str]:
    """The production environment the README documents (values are fresh for each test)."""
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgresql://invoice@127.0.0.1:5432/invoice"),
        "CELERY_BROKER_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SECRET_KEY": new_secret_key(),
        "CREDENTIALS_ENCRYPTION_KEYS": new_fernet_key(),
        "PUBLIC_BASE_URL": "https://invoices.example.com",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "SECURE_HSTS_PRELOAD": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example.com",
    }


def service_env(var_dir: Path, env: dict[str, str]) -> dict[str, str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in CONTROLLED and not key.startswith(("SECURE_", "ADMIN_LOGIN_", "EMAIL_"))
    }
    return {**base, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(var_dir), **env}


def run(
    argv: list[str], var_dir: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=REPO, env=service_env(var_dir, env), capture_output=True, text=True, timeout=timeout
    )


READ_SETTINGS = """
import json, sys
from django.conf import settings
print(json.dumps({name: getattr(settings, name) for name in sys.argv[1:]}, default=str))
"""


def settings_with(var_dir: Path, env: dict[str, str], *names: str) -> dict[str, Any]:
    result = run([sys.executable, "-c", READ_SETTINGS, *names], var_dir, env)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# --- embedded defaults: a key per installation, kept under var/ -------------------------------------
def test_embedded_defaults_generate_private_keys_once_and_reuse_them(tmp_path):
    first = settings_with(tmp_path, {}, "SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS")
    again = settings_with(tmp_path, {}, "SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS")
    elsewhere = settings_with(
        tmp_path / "other-installation", {}, "SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS"
    )

    assert first == again  # reused: sessions, links and stored secrets survive a restart
    assert first["SECRET_KEY"] != elsewhere["SECRET_KEY"]  # per installation, not a constant
    assert first["CREDENTIALS_ENCRYPTION_KEYS"] != elsewhere["CREDENTIALS_ENCRYPTION_KEYS"]
    assert first["SECRET_KEY"] != OLD_PUBLIC_KEY and len(first["SECRET_KEY"]) >= 50
    Fernet(first["CREDENTIALS_ENCRYPTION_KEYS"][0].encode())  # a usable Fernet key
    for name, value in (
        ("secret_key", first["SECRET_KEY"]),
        ("credentials_key", first["CREDENTIALS_ENCRYPTION_KEYS"][0]),
    ):
        path = tmp_path / name
        assert path.read_text().strip() == value
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_the_credentials_key_is_not_derived_from_the_secret_key(tmp_path):
    one = settings_with(tmp_path, {"SECRET_KEY": new_secret_key()}, "CREDENTIALS_ENCRYPTION_KEYS")
    two = settings_with(tmp_path, {"SECRET_KEY": new_secret_key()}, "CREDENTIALS_ENCRYPTION_KEYS")

    assert one == two  # changing SECRET_KEY leaves stored secrets readable


def test_web_worker_and_beat_starting_together_agree_on_one_key(tmp_path):
    """`make run` starts three processes at once on a fresh var/: they must not each make a key."""
    argv = [sys.executable, "-c", READ_SETTINGS, "SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS"]
    processes = [
        subprocess.Popen(argv, cwd=REPO, env=service_env(tmp_path, {}), stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outputs = [process.communicate(timeout=60)[0].strip().splitlines()[-1] for process in processes]

    assert all(process.returncode == 0 for process in processes)
    assert len(set(outputs)) == 1, outputs


def test_a_key_created_meanwhile_by_another_process_wins(tmp_path):
    path = tmp_path / "secret_key"

    def generate_while_another_process_is_faster() -> str:
        path.write_text("the-other-process-key\n")
        return "my-key"

    assert (
        read_or_create_key(path, generate=generate_while_another_process_is_faster) == "the-other-process-key"
    )
    assert read_or_create_key(path, generate=lambda: "never-used") == "the-other-process-key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]


def test_a_readable_key_file_is_made_private_and_an_empty_one_refused(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("kept\n")
    path.chmod(0o644)

    assert read_or_create_key(path, generate=lambda: "new") == "kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    path.write_text("")
    with pytest.raises(ImproperlyConfigured, match="empty"):
        read_or_create_key(path, generate=lambda: "new")


# --- production: the keys come from the environment or nothing starts ----------------------------
@pytest.mark.parametrize("missing", ["SECRET_KEY", "CREDENTIALS_ENCRYPTION_KEYS"])
def test_manage_py_check_refuses_to_start_without_a_key(tmp_path, missing):
    env = production_env()
    del env[missing]

    result = run([sys.executable, "manage.py", "check"], tmp_path, env)

    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "credentials_key").exists()


@pytest.mark.parametrize(
    "argv",
    [
        [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "1"],
        [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO", "--schedule", "{tmp}/schedule"],
        [str(BIN / "gunicorn"), "config.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
    ],
    ids=["worker", "beat", "web"],
)
def test_worker_beat_and_web_refuse_to_start_without_the_secret_key(tmp_path, argv):
    env = production_env()
    del env["SECRET_KEY"]

    result = run([arg.replace("{tmp}", str(tmp_path)) for arg in argv], tmp_path, env, timeout=120)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stdout + result.stderr


def test_an_invalid_credentials_key_is_refused_without_echoing_it(tmp_path):
    env = {**production_env(), "CREDENTIALS_ENCRYPTION_KEYS": f"{new_fernet_key()},not-a-fernet-key"}

    result = run([sys.executable, "manage.py", "check"], tmp_path, env)

    assert result.returncode != 0
    assert "CREDENTIALS_ENCRYPTION_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "not-a-fernet-key" not in result.stderr


def test_the_docker_image_bakes_no_secret_and_requires_the_keys():
    dockerfile = (REPO / "Dockerfile").read_text()

    assert "SECRET_KEY=build-only" not in dockerfile
    assert "REQUIRE_ENV_SECRETS=1" in dockerfile  # the image refuses to start without its keys


def test_the_image_environment_refuses_to_start_without_keys_even_without_a_database_url(tmp_path):
    result = run([sys.executable, "manage.py", "check"], tmp_path, {"REQUIRE_ENV_SECRETS": "1"})

    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_check_deploy_passes_on_the_documented_production_environment(tmp_path):
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        production_env(),
    )

    assert result.returncode == 0, result.stderr[-4000:]
    assert "no issues" in result.stdout


def test_https_public_url_turns_on_secure_cookies_hsts_and_the_redirect(tmp_path):
    names = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT",
             "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS")  # fmt: skip
    https = settings_with(tmp_path, production_env(), *names)
    plain = settings_with(tmp_path, {}, *names)

    assert https == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CSRF_TRUSTED_ORIGINS": ["https://invoices.example.com"],
    }
    assert plain == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "CSRF_TRUSTED_ORIGINS": [],
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PUBLIC_BASE_URL": "invoices.example.com"}, "PUBLIC_BASE_URL must be an absolute http(s) URL"),
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "SECURE_PROXY_SSL_HEADER must be"),
    ],
)
def test_malformed_production_settings_are_refused_by_name(tmp_path, env, message):
    result = run([sys.executable, "manage.py", "check"], tmp_path, env)

    assert result.returncode != 0 and message in result.stderr


# --- stored credentials ------------------------------------------------------------------------------
def test_credentials_need_a_configured_key_and_ignore_the_secret_key(settings):
    old, new = new_fernet_key(), new_fernet_key()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old]
    token = encrypt_secret("emporix-client-secret")

    settings.SECRET_KEY = new_secret_key()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new, old]  # rotated: the old key still decrypts
    assert decrypt_secret(token) == "emporix-client-secret"

    settings.CREDENTIALS_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="CREDENTIALS_ENCRYPTION_KEYS"):
        encrypt_secret("anything")


# --- hosts -------------------------------------------------------------------------------------------
def test_allowed_hosts_default_to_localhost_and_the_public_host(tmp_path):
    local = settings_with(tmp_path, {}, "ALLOWED_HOSTS")
    public = settings_with(
        tmp_path, {"PUBLIC_BASE_URL": "https://Invoices.Example.com:8443/"}, "ALLOWED_HOSTS"
    )
    ipv6 = settings_with(tmp_path, {"PUBLIC_BASE_URL": "http://[2001:db8::1]:8000"}, "ALLOWED_HOSTS")
    explicit = settings_with(
        tmp_path,
        {"ALLOWED_HOSTS": "a.example, b.example", "PUBLIC_BASE_URL": "https://c.example"},
        "ALLOWED_HOSTS",
    )

    assert local["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert public["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]", "invoices.example.com"]
    assert ipv6["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]", "[2001:db8::1]"]
    assert explicit["ALLOWED_HOSTS"] == ["a.example", "b.example", "c.example"]


@pytest.fixture
def finished_job(api, tenant, run_job) -> InvoiceJob:
    factories.orders_store(tenant, factories.CARD_ORDER)
    created = api.post(
        JOBS_URL.format(tenant="acme"),
        {"jobType": "MANUAL", "orderIds": [factories.CARD_ORDER]},
        format="json",
    )
    job = InvoiceJob.objects.get(pk=created.json()["jobId"])
    run_job(job)
    return job


@pytest.mark.django_db
@pytest.mark.parametrize("public_base_url", ["", "https://invoices.example.com"])
def test_a_request_for_a_foreign_host_gets_400_and_never_a_link_to_it(
    api, finished_job, settings, public_base_url
):
    settings.PUBLIC_BASE_URL = public_base_url

    response = api.get(job_url("acme", finished_job.pk), HTTP_HOST="evil.example")

    assert_error(response, 400, "")  # an ErrorResponse; its wording is jobs/api/errors.py's
    assert b"evil.example" not in response.content


@pytest.mark.django_db
def test_a_foreign_host_gets_400_on_every_path(finished_job):
    invoice = Invoice.objects.get()
    for path in ("/health", "/admin/login/", f"/invoice/acme/invoices/{invoice.number}/document", "/nope"):
        assert_error(Client().get(path, HTTP_HOST="evil.example"), 400, "")


@pytest.mark.django_db
def test_links_come_from_the_public_base_url_whatever_allowed_host_was_asked(api, finished_job, settings):
    settings.PUBLIC_BASE_URL = "https://invoices.example.com"

    order = api.get(job_url("acme", finished_job.pk), HTTP_HOST="localhost").json()["orders"][0]

    assert order["downloadLink"].startswith("https://invoices.example.com/invoices/download/")


# --- admin login -------------------------------------------------------------------------------------
PASSWORD = "a-long-and-uncommon-passphrase"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        "operator", password=PASSWORD, is_staff=True, is_superuser=True
    )


def admin_login(password: str, *, username: str = "operator", ip: str = "203.0.113.7", **extra: str):
    client = Client(REMOTE_ADDR=ip, **extra)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return client, response


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_admin_login_locks_a_username_and_ip_out_after_the_failure_limit(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _, response = admin_login("wrong")
        assert response.status_code == 200  # the form again, with its error

    _, locked = admin_login("wrong")
    client, right_password = admin_login(PASSWORD)

    assert locked.status_code == 429
    assert right_password.status_code == 429 and not logged_in(client)
    other_ip, response = admin_login(PASSWORD, ip="198.51.100.9")  # per username *and* IP
    assert response.status_code == 302 and logged_in(other_ip)


def test_admin_login_failures_below_the_limit_are_forgotten_after_a_success(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login("wrong")
    client, response = admin_login(PASSWORD)
    assert response.status_code == 302 and logged_in(client)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login("wrong")
    client, response = admin_login(PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_behind_a_trusted_proxy_the_forwarded_client_is_locked_out_not_the_proxy(staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        # the client forges a left-most entry; the proxy appends the address it really saw
        admin_login("wrong", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.7")

    _, attacker = admin_login(PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    colleague, response = admin_login(PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9")

    assert attacker.status_code == 429
    assert response.status_code == 302 and logged_in(colleague)


def test_throttle_limits_come_from_the_environment(tmp_path):
    values = settings_with(
        tmp_path,
        {"ADMIN_LOGIN_FAILURE_LIMIT": "3", "ADMIN_LOGIN_COOLOFF_MINUTES": "60"},
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        "AXES_LOCKOUT_PARAMETERS",
    )

    assert values == {
        "AXES_FAILURE_LIMIT": 3,
        "AXES_COOLOFF_TIME": "1:00:00",
        "AXES_LOCKOUT_PARAMETERS": [["username", "ip_address"]],
    }


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("4711081547110815", "entirely numeric"),
        ("operator-operator", "too similar to the username"),
    ],
)
def test_passwords_meet_djangos_standard_validators(password, reason):
    user = get_user_model()(username="operator-operator")

    with pytest.raises(ValidationError) as raised:
        validate_password(password, user=user)

    assert any(reason in message for message in raised.value.messages), raised.value.messages
    validate_password(PASSWORD, user=user)  # a decent one passes

"""The end-to-end corpus: realistic secrets of every kind the journal must recognise, and
look-alikes it must leave alone. Used by ``tests/privacy/test_corpus_e2e.py`` and
``bench/redaction_corpus.py``.

Every credential is fake, generated from a fixed seed in the vendor's real alphabet and
length, and set in the text that carries it in practice (a prompt, a shell command, a
config file, an HTTP header). `SECRETS` holds ``(kind, text, needles)``: after recording
``text``, none of ``needles`` (the secret, or for a key block each of its body lines) may
appear in any file of the journal. `LOOK_ALIKES` holds texts that must come back
unchanged.
"""

from __future__ import annotations

import base64
import random

from tests.privacy.corpus import NON_SECRETS

_RNG = random.Random(20261207)
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()
_DIGITS = "0123456789"
_ALNUM = _LOWER + _UPPER + _DIGITS
_URLSAFE = _ALNUM + "_-"
_HEX = "0123456789abcdef"
_B64 = _ALNUM + "+/"


def _r(alphabet: str, n: int) -> str:
    while True:
        out = "".join(_RNG.choice(alphabet) for _ in range(n))
        if n < 8 or (any(c.isdigit() for c in out) and any(c.isalpha() for c in out)) or alphabet == _DIGITS:
            return out


def _pem(label: str, lines: int = 6) -> tuple[str, list[str]]:
    body = [_r(_B64, 64) for _ in range(lines)]
    return f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----", body


def _discord_bot() -> str:
    snowflake = str(_RNG.randrange(10**17, 10**18))
    head = base64.b64encode(snowflake.encode()).decode().rstrip("=")
    return f"{head}.{_r(_URLSAFE, 6)}.{_r(_URLSAFE, 38)}"


def _two(make):  # type: ignore[no-untyped-def]
    return make(), make()


SECRETS: list[tuple[str, str, list[str]]] = []


def _add(kind: str, text: str, *needles: str) -> None:
    SECRETS.append((kind, text, list(needles)))


# --- AI vendors and code hosts ------------------------------------------------------------
a, b = _two(lambda: "sk-ant-api03-" + _r(_URLSAFE, 93) + "AA")
_add("anthropic", f"ANTHROPIC_API_KEY={a}", a)
_add("anthropic", f"my key {b} stopped working, can you check?", b)
a, b = _two(lambda: "sk-proj-" + _r(_URLSAFE, 120))
_add("openai", f'client = OpenAI(api_key="{a}")', a)
_add("openai", f"export OPENAI_API_KEY={b}", b)
a, b = _two(lambda: "AKIA" + _r(_UPPER + _DIGITS, 16))
_add("aws_access_key_id", f"aws configure set aws_access_key_id {a}", a)
_add("aws_access_key_id", f"I think {b} is the key that leaked in CI", b)
a, b = _two(lambda: _r(_B64, 40))
_add("aws_secret_access_key", f"[default]\naws_secret_access_key = {a}\nregion = eu-west-1", a)
_add("aws_secret_access_key", f"AWS_SECRET_ACCESS_KEY={b} aws s3 ls", b)
a, b = _two(lambda: "ghp_" + _r(_ALNUM, 36))
_add("github_pat", f"git remote set-url origin https://{a}@github.com/acme/api.git", a)
_add("github_pat", f"gh auth login --with-token <<< {b}", b)
a, b = _two(lambda: "github_pat_" + _r(_ALNUM, 22) + "_" + _r(_ALNUM, 59))
_add("github_fine_grained", f"GITHUB_TOKEN={a}", a)
_add("github_fine_grained", f"use the token {b} for the MCP server", b)
a, b = _two(lambda: "glpat-" + _r(_URLSAFE, 20))
_add("gitlab_pat", f"git clone https://oauth2:{a}@gitlab.com/acme/infra.git", a)
_add("gitlab_pat", f'curl --header "PRIVATE-TOKEN: {b}" https://gitlab.com/api/v4/projects', b)
a, b = _two(lambda: _r(_URLSAFE, 20))
_add("gitlab_webhook", f"curl -X POST -H 'X-Gitlab-Token: {a}' https://ci.acme.dev/hooks/gitlab", a)
b = "glptt-" + _r(_HEX, 40)
_add("gitlab_webhook", f"curl -X POST 'https://gitlab.com/api/v4/projects/42/trigger/pipeline?token={b}&ref=main'", b)
a, b = _two(lambda: "xoxb-" + _r(_DIGITS, 12) + "-" + _r(_DIGITS, 13) + "-" + _r(_ALNUM, 24))
_add("slack_token", f'SLACK_BOT_TOKEN = "{a}"', a)
_add("slack_token", f'curl -H "Authorization: Bearer {b}" https://slack.com/api/auth.test', b)
a, b = _two(lambda: "T" + _r(_UPPER + _DIGITS, 8) + "/B" + _r(_UPPER + _DIGITS, 10) + "/" + _r(_ALNUM, 24))
_add("slack_webhook", f"curl -X POST --data '{{\"text\":\"hi\"}}' https://hooks.slack.com/services/{a}", a)
_add("slack_webhook", f"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/{b}", b)
a, b = _two(lambda: "hf_" + _r(_ALNUM, 34))
_add("huggingface", f"huggingface-cli login --token {a}", a)
_add("huggingface", f"HF_TOKEN={b}", b)
# --- payments -------------------------------------------------------------------------------
a, b = _two(lambda: "sk_live_" + _r(_ALNUM, 24))
_add("stripe_secret", f"charge the card with {a} please", a)
_add("stripe_secret", f"STRIPE_SECRET_KEY={b}", b)
a, b = _two(lambda: "rk_live_" + _r(_ALNUM, 24))
_add("stripe_restricted", f"stripe.api_key = '{a}'", a)
_add("stripe_restricted", f"the restricted key is {b}", b)
a = "EAAA" + _r(_URLSAFE, 60)
b = "sq0csp-" + _r(_URLSAFE, 43)
_add("square", f"SQUARE_ACCESS_TOKEN={a}", a)
_add("square", f"client secret {b} for the OAuth app", b)
# --- cloud ----------------------------------------------------------------------------------
a, b = _two(lambda: "AIza" + _r(_URLSAFE, 35))
_add("google_api_key", f'const firebaseConfig = {{ apiKey: "{a}" }};', a)
_add("google_api_key", f"curl 'https://maps.googleapis.com/maps/api/geocode/json?address=x&key={b}'", b)
for _ in range(2):
    block, body = _pem("PRIVATE KEY")
    escaped = block.replace("\n", "\\n")
    _add("gcp_service_account", '{\n  "type": "service_account",\n  "project_id": "acme-prod",\n'
         f'  "private_key_id": "{_r(_HEX, 40)}",\n  "private_key": "{escaped}\\n",\n'
         '  "client_email": "deploy@acme-prod.iam.gserviceaccount.com"\n}', *body)
a, b = _two(lambda: _r(_B64, 86) + "==")
_add("azure_storage", f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={a};EndpointSuffix=core.windows.net", a)
_add("azure_storage", f'az storage blob list --connection-string "AccountName=logs;AccountKey={b}"', b)
a, b = _two(lambda: "dop_v1_" + _r(_HEX, 64))
_add("digitalocean", f"doctl auth init -t {a}", a)
_add("digitalocean", f"DIGITALOCEAN_TOKEN={b}", b)
a, b = _two(lambda: "dapi" + _r(_HEX, 32))
_add("databricks", f"databricks configure --token <<< {a}", a)
_add("databricks", f"DATABRICKS_HOST=https://x.cloud.databricks.com DATABRICKS_TOKEN={b}", b)
a, b = _two(lambda: "hvs." + _r(_URLSAFE, 90))
_add("vault", f"VAULT_TOKEN={a} vault kv get secret/db", a)
_add("vault", f"vault login {b}", b)
# --- messaging, email -------------------------------------------------------------------------
a, b = _two(lambda: "SK" + _r(_HEX, 32))
_add("twilio", f"twilio api:core:keys:create gave {a}", a)
_add("twilio", f"client = Client('{b}', api_secret, account_sid)", b)
a, b = _two(lambda: "SG." + _r(_URLSAFE, 22) + "." + _r(_URLSAFE, 43))
_add("sendgrid", f"SENDGRID_API_KEY='{a}'", a)
_add("sendgrid", f"sg = SendGridAPIClient('{b}')", b)
a, b = _two(lambda: "key-" + _r(_HEX, 32))
_add("mailgun", f"curl -s --user 'api:{a}' https://api.mailgun.net/v3/acme.dev/messages", a)
_add("mailgun", f"mailgun private key {b}", b)
a, b = _two(_discord_bot)
_add("discord_bot", f"client.run('{a}')", a)
_add("discord_bot", f"DISCORD_BOT_TOKEN={b}", b)
a = _r(_URLSAFE, 68)
_add("discord_webhook", f"curl -H 'Content-Type: application/json' -d '{{\"content\":\"x\"}}' "
     f"https://discord.com/api/webhooks/{_r(_DIGITS, 19)}/{a}", a)
a, b = _two(lambda: _r(_DIGITS, 10) + ":AA" + _r(_URLSAFE, 33))
_add("telegram_bot", f"curl https://api.telegram.org/bot{a}/getMe", a)
_add("telegram_bot", f"TELEGRAM_BOT_TOKEN={b}", b)
# --- package registries -----------------------------------------------------------------------
a, b = _two(lambda: "npm_" + _r(_ALNUM, 36))
_add("npm", f"//registry.npmjs.org/:_authToken={a}", a)
_add("npm", f"npm config set //registry.npmjs.org/:_authToken {b}", b)
a, b = _two(lambda: "pypi-AgEIcHlwaS5vcmc" + _r(_URLSAFE, 100))
_add("pypi", f"twine upload -u __token__ -p {a} dist/*", a)
_add("pypi", f"[pypi]\n  username = __token__\n  password = {b}", b)
a, b = _two(lambda: "dckr_pat_" + _r(_URLSAFE, 27))
_add("dockerhub", f"echo {a} | docker login -u acme --password-stdin", a)
_add("dockerhub", f"DOCKERHUB_TOKEN={b}", b)
# --- SaaS ----------------------------------------------------------------------------------
a, b = _two(lambda: "shpat_" + _r(_HEX, 32))
_add("shopify", f"X-Shopify-Access-Token: {a}", a)
_add("shopify", f"the admin token is {b}", b)
a, b = _two(lambda: _r(_HEX, 32))
_add("datadog_api", f"DD_API_KEY={a} datadog-agent run", a)
_add("datadog_api", f'curl -H "DD-API-KEY: {b}" https://api.datadoghq.com/api/v1/validate', b)
a, b = _two(lambda: _r(_HEX, 40))
_add("datadog_app", f'curl -H "DD-APPLICATION-KEY: {a}" https://api.datadoghq.com/api/v1/monitor', a)
_add("datadog_app", f"DD_APP_KEY={b}", b)
a, b = _two(lambda: "lin_api_" + _r(_ALNUM, 40))
_add("linear", f"LINEAR_API_KEY={a}", a)
_add("linear", f'curl -H "Authorization: {b}" https://api.linear.app/graphql', b)
a, b = _two(lambda: "sk.eyJ1IjoiYWNtZSIsImEiOiJ" + _r(_URLSAFE, 30) + "." + _r(_URLSAFE, 22))
_add("mapbox", f"MAPBOX_ACCESS_TOKEN={a}", a)
_add("mapbox", f"mapbox upload with {b}", b)
a, b = _two(lambda: "00" + _r(_URLSAFE, 40))
_add("okta", f'curl -H "Authorization: SSWS {a}" https://acme.okta.com/api/v1/users', a)
_add("okta", f"OKTA_API_TOKEN={b}", b)
a, b = _two(lambda: "AGE-SECRET-KEY-1" + "".join(_RNG.choice("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L") for _ in range(58)))
_add("age", f"# created: 2026-01-01\n# public key: age1xyz\n{a}", a)
_add("age", f"SOPS_AGE_KEY={b}", b)
# --- JWT and headers --------------------------------------------------------------------------
jwt_head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
a, b = _two(lambda: jwt_head + "." + base64.urlsafe_b64encode(
    ('{"sub":"%s","exp":1900000000}' % _r(_ALNUM, 12)).encode()).decode().rstrip("=") + "." + _r(_URLSAFE, 43))
_add("jwt", f'curl -H "Authorization: Bearer {a}" https://api.acme.dev/me', a)
_add("jwt", f"this token fails with 401: {b}", b)
a, b = _two(lambda: base64.b64encode(f"deploy:{_r(_ALNUM, 16)}".encode()).decode())
_add("basic_auth", f"GET /builds HTTP/1.1\r\nAuthorization: Basic {a}\r\n", a)
_add("basic_auth", f'curl -H "Authorization: Basic {b}" https://ci.acme.dev', b)
# --- database URLs ------------------------------------------------------------------------------
for scheme, kind in (("postgres", "postgres_url"), ("postgresql", "postgres_url"), ("mysql", "mysql_url"),
                     ("mysql", "mysql_url"), ("mongodb+srv", "mongodb_url"), ("mongodb", "mongodb_url"),
                     ("redis", "redis_url"), ("rediss", "redis_url"), ("amqp", "amqp_url"), ("amqps", "amqp_url")):
    pw = _r(_ALNUM, 14)
    _add(kind, f"DATABASE_URL={scheme}://app:{pw}@db.internal:5432/app", pw)
# --- command-line passwords -------------------------------------------------------------------
a, b = _two(lambda: _r(_ALNUM, 12) + "!")
_add("mysql_password_flag", f"mysql -h db -u root --password='{a}' app < dump.sql", a)
_add("mysql_password_flag", f"mysqldump -uroot -p{b} app > app.sql", b)
a, b = _two(lambda: _r(_ALNUM, 14))
_add("pgpassword", f"PGPASSWORD={a} psql -h db -U app -c 'select 1'", a)
_add("pgpassword", f"export PGPASSWORD='{b}'", b)
a, b = _two(lambda: _r(_ALNUM, 12))
_add("curl_user", f"curl -u deploy:{a} https://ci.acme.dev/api/v1/builds", a)
_add("curl_user", f"curl --user admin:{b} -X POST https://jenkins.acme.dev/job/x/build", b)
# --- env files and exports -----------------------------------------------------------------------
a, b = _two(lambda: _r(_ALNUM, 24))
_add("env_key", f"STRIPE_WEBHOOK_KEY={a}\nDEBUG=false", a)
_add("env_key", f"export SEGMENT_WRITE_KEY={b}", b)
a, b = _two(lambda: _r(_ALNUM, 24))
_add("env_token", f"export CIRCLE_TOKEN={a}", a)
_add("env_token", f"SENTRY_AUTH_TOKEN={b}\n", b)
a, b = _two(lambda: _r(_ALNUM, 24))
_add("env_secret", f"JWT_SECRET={a}", a)
_add("env_secret", f"export SESSION_SECRET='{b}'", b)
a, b = _two(lambda: _r(_ALNUM, 10) + "#7")
_add("env_password", f"DB_PASSWORD={a}", a)
_add("env_password", f"export REDIS_PASSWORD=\"{b}\"", b)
# --- kubernetes -----------------------------------------------------------------------------------
a = _r(_LOWER + _DIGITS, 6) + "." + _r(_LOWER + _DIGITS, 16)
_add("kubeconfig_token", f"users:\n- name: admin\n  user:\n    token: {a}\n", a)
pem_block, pem_body = _pem("RSA PRIVATE KEY", 4)
b = base64.b64encode(pem_block.encode()).decode()
_add("kubeconfig_client_key", f"users:\n- name: admin\n  user:\n    client-key-data: {b}\n", b[40:100])
# --- private keys ------------------------------------------------------------------------------------
block, body = _pem("OPENSSH PRIVATE KEY")
_add("openssh_private_key", f"cat ~/.ssh/id_ed25519\n{block}\n", *body)
block, body = _pem("OPENSSH PRIVATE KEY")
_add("openssh_private_key", f'echo "{block}" > key', *body)
block, body = _pem("RSA PRIVATE KEY")
_add("pem_private_key", block, *body)
block, body = _pem("EC PRIVATE KEY")
_add("pem_private_key", f"Here is the key:\n{block}", *body)
for _ in range(2):
    body = [_r(_B64, 64) for _ in range(5)]
    block = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + "\n".join(body) + "\n=" + _r(_B64, 4)
             + "\n-----END PGP PRIVATE KEY BLOCK-----")
    _add("pgp_private_key", f"gpg --export-secret-keys --armor\n{block}", *body)
# --- prose ------------------------------------------------------------------------------------------
a, b = _two(lambda: _r(_LOWER, 6) + _r(_DIGITS, 2) + "!")
_add("prose_password", f"my password is {a} but it stopped working", a)
_add("prose_password", f"The admin password was {b}. Please rotate it.", b)

KINDS = sorted({kind for kind, _, _ in SECRETS})

# --- look-alikes: must come back unchanged -----------------------------------------------------------
_MORE_LOOK_ALIKES = [
    ("git sha", "commit " + _r(_HEX, 40)),
    ("short sha", "fixed in " + _r(_HEX, 7) + " and " + _r(_HEX, 7)),
    ("git log", "\n".join(_r(_HEX, 40) + " Merge pull request #" + _r(_DIGITS, 4) for _ in range(3))),
    ("uuid", "request id " + "-".join(_r(_HEX, n) for n in (8, 4, 4, 4, 12))),
    ("uuids in json", '{"id": "%s", "parent": "%s"}' % tuple("-".join(_r(_HEX, n) for n in (8, 4, 4, 4, 12))
                                                             for _ in range(2))),
    ("sha256", "sha256:" + _r(_HEX, 64)),
    ("md5 list", "\n".join(_r(_HEX, 32) + "  src/file" + str(i) + ".py" for i in range(3))),
    ("base64 png", "data:image/png;base64," + base64.b64encode(bytes(_RNG.randrange(256) for _ in range(300))).decode()),
    ("base64 jpeg", '{"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg'
     + base64.b64encode(bytes(_RNG.randrange(256) for _ in range(200))).decode() + '"}}'),
    ("aws example id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    ("aws example secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws example env", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("long identifier", "AbstractSingletonProxyFactoryBeanDefinitionRegistryPostProcessorAdapter"),
    ("long snake identifier", "test_the_writer_sanitises_every_event_before_it_frames_the_record"),
    ("python path", "/home/dev/.local/lib/python3.11/site-packages/msgspec/_core.cpython-311-x86_64-linux-gnu.so"),
    ("tool use ids", "toolu_01" + _r(_ALNUM, 22) + " toolu_01" + _r(_ALNUM, 22)),
    ("npm package", "npm install @types/node@20.11.5 typescript@5.3.3 --save-dev"),
    ("semver list", "django==5.0.1 requests==2.31.0 pydantic-settings==2.1.0"),
    ("k8s secret ref", "secretKeyRef:\n  name: api-keys\n  key: stripe-key"),
    ("prose key word", "Press the SK button, then the key-value store will sync."),
    ("prose password advice", "The password is incorrect. Password is Required. Your password is stored hashed."),
    ("ssh port flag", "ssh -p2222 deploy@host && scp -P2222 file host:"),
    ("mkdir -p", "mkdir -p build/dist && cp -p a b"),
    ("docker port", "docker run -p8080:80 -p 5432:5432 postgres:16"),
    ("pg url without password", "postgres://app@localhost:5432/app?sslmode=disable"),
    ("mailgun prose", "the key-value pairs are sorted; keys like key-press and key-down are events"),
    ("discord url", "https://discord.com/channels/123456789012345678/987654321098765432"),
    ("telegram prose", "time 12:30:45 AA batteries; id 1234567890:AAbc"),
    ("vault path", "vault kv get secret/data/app; hvs. tokens expire"),
    ("dapi word", "adapting the databricks api (dapi) docs"),
    ("sendgrid prose", "SG.com is not a key, nor is SG.example.org"),
    ("jwt header only", "eyJhbGciOiJIUzI1NiJ9 is the base64 of the header"),
    ("hex colour", "color: #a1b2c3; background: #ffffff; border-color: #0f0f0f"),
    ("ipv6", "fe80::1ff:fe23:4567:890a%eth0 and 2001:db8:85a3::8a2e:370:7334"),
    ("css hash classes", 'class="css-1x2y3z4 sc-bdVaJa-dFxOHT KmPzZ"'),
    ("pip hash", "--hash=sha256:" + _r(_HEX, 64)),
    ("etag", 'ETag: W/"' + _r(_HEX, 32) + '"'),
    ("go sum", "golang.org/x/sys v0.16.0 h1:" + _r(_B64, 43) + "="),
    ("terraform resource", 'resource "aws_iam_access_key" "deploy" { user = aws_iam_user.deploy.name }'),
    ("cron", "0 */4 * * * /usr/local/bin/backup --quiet"),
]
LOOK_ALIKES: list[tuple[str, str]] = [*NON_SECRETS, *_MORE_LOOK_ALIKES]

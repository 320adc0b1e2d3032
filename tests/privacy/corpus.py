"""Realistic secrets, and look-alikes that are not secrets, as hook payloads carry them.

Every credential here is random and fake; the shapes are real. `SECRETS` are strings the way
they show up in prompts, Bash commands, tool outputs, env dumps and config files, each with
the exact text that must disappear and the marker kind that must replace it. `STRUCTURED`
are whole payload fragments (secrets under dict keys, in lists, as keys). `NON_SECRETS`
must come out unchanged; the false-positive rate over them is reported by the tests.

Decisions the non-secrets encode (see `journal.privacy.redaction`): well-known placeholders
(``changeme``, ``<YOUR_TOKEN>``, ``${VAR}``, ``****``) and the documented AWS ``...EXAMPLE``
keys are not secrets; hex digests, UUIDs and commit ids are not high-entropy secrets; code
references (``password = request.form["password"]``, ``apiKey: process.env.API_KEY``) and
type annotations (``password: str``) are not secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    """A text holding secrets: each ``(secret, kind)`` must become a ``kind`` marker.

    With ``exact`` the marker must be the one for exactly ``secret`` (the redacted span is
    precisely the secret); without it, only the kind and the absence of ``secret`` count.
    """

    where: str
    text: str
    secrets: tuple[tuple[str, str], ...]
    exact: bool = True


# --- the fake credentials --------------------------------------------------------------

ANTHROPIC = "sk-ant-api03-oYmJFw2rBXwwljvEqYIrKi-bDripN9ISEO1HJON-b7KOe7JMwOZYx6IuRCdv0i8fiJgz7YNAyLyE0TE2CrMN6eEDOAbz4AA"
ANTHROPIC_2 = "sk-ant-api03-f-br9923gYIifAhuAXR1JJXwRP4ct7cC0LoXnRo0DySImjgFWoV3xtUCi1amb6ZNcgeD8Ej0kxMkplISJIZ-yr1Sle9qEAA"
ANTHROPIC_OAUTH = "sk-ant-oat01-ZpAo46LkUfZhl6HvXzappUT2v_lXZAvUOkF9vvs6LGNGnA1ttOeUXxP_ypJF-D0pZcEQ-52IiWfyeFzaaai89D6Zng8X-AA"
OPENAI_PROJ = (
    "sk-proj-A8OQot4QFH1ChkNlR5csLhBH8SYBe_pmuAwtFW8RESNzGC-Aq0s-8NO8m3PuRQU72YRM1yviiDBOwFNLMicjJRNBHkTNWr0YlvXDVAmH6LKN1F"
    "fL78BXxnIiFvQP7nR_X09kjlLORoz_bxhjhFmGFDqoAry3"
)
OPENAI_LEGACY = "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"
OPENAI_SVC = "sk-svcacct-4fXAxCwACx1jdRL4jnPSid9vaKYYtA1HCknV3lxOz19kVID77iUwv_Oiyfhbg1Moqyqv6z4n1KAlhebbf-mAh5i6UnZoPguBHmxu"
AWS_ID = "AKIAPGFJD6THNGAFZF2X"
AWS_ID_2 = "AKIAZ3GNODRLAQ4CRFFB"
AWS_STS_ID = "ASIAOXXQF4MFH2JA67NN"
AWS_SECRET = "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"
AWS_SECRET_2 = "HRA4fqHsl14bDgIfzVGKSN8114dUWG0tVO5KoIvz"
AWS_SECRET_3 = "Av1aZfTDXDpGQPb8lVXcUpjL6hvKqtfn+TokWSjr"
AWS_SESSION = (
    "IQoJb3JpZ2luX2VjEFwGhknn+MECYicjoVQvrNMnFe4tkZtK+RGvcDUZtwM8Hm5TGDtu4LqljDNtn+HxyULJIm+3+G8FybthH+/X39YXo4a/xwfXM"
    "FBeVtCOG4KKqNHgogaFgONC+YQC4X68cjqVn2/zqJJ5Mx0kCEKDN1ttIwHdV3aQcDXGUU/kh9hvud+VDsDSAYO8eoQgWvKnz+RWFvvhP"
)
GH_PAT_CLASSIC = "ghp_i5rR6pMDq1WfsrcYQttTs7ywYwMTy3MhzeC3"
GH_OAUTH = "gho_yzqCeXWuvyMDMcdex0ejhy64Fy6Rfu9b7Wno"
GH_APP = "ghs_sgAanVc528nu3peATfeo2FLNuPM1c78ZZxlq"
GH_USER = "ghu_L1wQlRJuNYqlc3EpRGTNCBTgBIq21TKHMHaA"
GH_PAT_FINE = "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"
GITLAB = "glpat-KofVtHFfQZeS6VNPnAHc"
SLACK_BOT = "xoxb-513035305692-7405863074538-P1BjA2xqdv5GmhiCCZ6lHru7"
SLACK_USER = "xoxp-864387291535-642604531632-2946881562595-12332c11a15fb6f853f49c5e657ad520"
SLACK_HOOK_PATH = "TMVSCVPZ7/B1DP64PMJXC/D6ye9q1jLqSjckE6KU0eQWQm"
JWT = (
    "eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidXNlcl84ODEyIiwgImlhdCI6IDE3MzI1MzEyMDAsICJleHAiOiAxNzMyNTM0O"
    "DAwLCAic2NvcGUiOiAicmVhZDphbGwifQ.r0WHPAdzXVgF05r-ljb7OXaGzh7pKT85CM7EMEciKMo"
)
JWT_2 = (
    "eyJhbGciOiAiUlMyNTYiLCAia2lkIjogImsxIn0.eyJpc3MiOiAiaHR0cHM6Ly9hdXRoLmV4YW1wbGUuY29tIiwgImF1ZCI6ICJhcGkiLCAic3ViIjo"
    "gInN2Yy00MiJ9.WcE1YZuGgKXXZV2W6jtZwtyxrMyNKysSDhLWa2AHlLJoVWH8Wv2mpzsl8eJNUiVT7rqu46gsEkvnRBRw0SCQqQ"
)
OPAQUE_BEARER = "H2JHJGnYRWkJ3q8vOElUEV3UTfv.AHGo.ZhUjGFB"
BASIC_AUTH = "ZGVwbG95OnNoQlEzSzlOc0l6Qzg4"
RSA_KEY = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA8coRkefsysZn/eyR1E3L96Bi136QaYN3gq3mxbGhyNg3+1ye
gDK/oD8Kop2mFtkgfBha5giM8f5J6PXjJCqBvgv7Sa399a6GHXiGEhqvLs3wQ15x
lV7lxYzaHGk9RwO6c2pCNULrn+l+UJf4kgBZm2yEv66ZKqmrFYx2iBz1bpTdYyRV
cO9jKma4pZGabgvzxxgxayj73kkN4jvtD4d0jfjmE77j2IQBqNCm+LS7KB+3m4Mb
c0buqkLolGLabJKVYdS6VNB8==
-----END RSA PRIVATE KEY-----"""
OPENSSH_KEY_ESCAPED = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\\n"
    "7tCzi58B72Jc3B1T64rV/E8H+8ty0xwBWrHFkClTvz/oL4vlMpMki/Hj3iQvgee1udh9AZ\\n"
    "A2+B4+fETDjqep0zBng4PvndAwT02COayOIpJzHSDHpvOFHfpGk5w1EfB3ej0e93llJEpl\\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
EC_KEY_LINES = (
    "t8/hdGsJ6tRcje2lvsnVSduH0cfVMXo+QtdBJff/xK42mP6ZGRiERda8iLJ1sd8N",
    "HI/tx3cPUa7nGiS2b0sGwDlvSjCkMeZrlhQFG6FjDnbqjLQbVW6aqrUGXEko1kJd",
)
DB_PASSWORD = "Sup3rS3cret!"
MONGO_PASSWORD = "Xk9vLp2Qr7"
REDIS_PASSWORD = "r3d1sP4ss"
CLIENT_SECRET = "dD9h5hte41lBT6KVN8WhP8GedeNIlkwM"
GOOGLE_OAUTH = (
    "ya29.a0iiQi4t6Pv7vzA9Ac0ikns-_ilV_UDXHlfpyGwSYv2_ZrN8n5uSANBVlCgzB0bYwpggjblKx_8FEvDSdG36vPXngb4ruiNqHX3XV3uVGKEOyN5"
    "d55WghHe3ho"
)
HEX_API_KEY = "84e7c8772fe779f636238b27d6e04d18e3023d65"
CIRCLE_TOKEN = "afcef4c3d3125bed97a3af984bb194cff748e88d"
MEILI_MASTER = "6tOMkDSsHKdWjA9bjAtqoXnZn2MwZLmZ"
PINECONE = "wq3LHWARrfugC4Fo6nlshDl3yPAcel8Gg2aR"
NPM = "npm_VjTbdKdCqnZTRNWmqa5SwFcGK8IpRFsZR9qT"
GOOGLE_API = "AIzaSyAFCUvFGI3Sq0GxdXpysKGHAdwb8OLxFCn"
STRIPE = "sk_live_5S2KnbUsNYfxuCGjKrZ79OoM"
HUGGINGFACE = "hf_45px0IjJxWGjLN9o1fBypU5gY3PDpMdJnD"
DOCKER_AUTH = "Y2ktYm90OloyZTZpQkRTaEMzMW5RcThiMDU3"
PYPI = (
    "pypi-AgEIcHlwaS5vcmchjJVCyHSXY__YiL1t4W-XBBIOpbH2itu7anKNogOu0fWg5iuiekdf3ROxqnfwpQl7qcuKZ1ACr3A_z3d9XeoORg4BIehZVu"
    "h-lgI8LrqAfB3FxO_Di7u53VB"
)
VAULT = "hvs.PqxVa-SSBhotXeZMrhSdUILxMD1Pc6r3TLl7sG4e78M4Jua7P0DmFlGALQkAIJcPgkwE8_X0QOn7P2JZm1VnYr-7Bv"
RAILS_SECRET = "8f7e6d5c4b3a29180f7e6d5c4b3a2918c4d5e6f7a8b9c0d1"
AZURE_KEY = "Zm9vYmFyYmF6cXV4Yq7wLm3T+/Zm9vYmFyK2x9pQ=="
K8S_PASSWORD = "S3cr3t!x"
GENERIC_TOKEN = "Ocyy9yFZkTPsZPvdkVVMCMjMfqErRqERZsJ5VYIaIEpr38NB"
CURL_PASSWORD = "Zx8kP2vQ9w"
MYSQL_PASSWORD = "Tr0ub4dor&3"
YAML_PASSWORD = "hunter2x"
JSON_PASSWORD = "c0rrect-h0rse"
EXPORT_PASSWORD = "p@ssw0rd!2024"

SECRETS: list[Case] = [
    # Anthropic
    Case("env dump", f"HOME=/home/dev\nANTHROPIC_API_KEY={ANTHROPIC}\nSHELL=/bin/zsh", ((ANTHROPIC, "anthropic_api_key"),)),
    Case(
        "prompt",
        f"my key {ANTHROPIC_2} stopped working after I rotated it, can you check the headers?",
        ((ANTHROPIC_2, "anthropic_api_key"),),
    ),
    Case(
        "curl command",
        "curl https://api.anthropic.com/v1/messages -H 'content-type: application/json' "
        f'-H "x-api-key: {ANTHROPIC}" -d \'{{"model": "claude-sonnet-4-5", "max_tokens": 64}}\'',
        ((ANTHROPIC, "anthropic_api_key"),),
    ),
    Case(
        "settings json",
        f'{{\n  "env": {{\n    "CLAUDE_CODE_OAUTH_TOKEN": "{ANTHROPIC_OAUTH}"\n  }}\n}}',
        ((ANTHROPIC_OAUTH, "anthropic_api_key"),),
    ),
    # OpenAI
    Case(
        "python source",
        f'from openai import OpenAI\n\nclient = OpenAI(api_key="{OPENAI_PROJ}")\n',
        ((OPENAI_PROJ, "openai_api_key"),),
    ),
    Case(".env file", f"OPENAI_API_KEY={OPENAI_LEGACY}\nOPENAI_ORG=org-acme\n", ((OPENAI_LEGACY, "openai_api_key"),)),
    Case(
        "nested json in a tool output",
        f'{{"providers": {{"openai": {{"apiKey": "{OPENAI_SVC}", "timeout": 30}}}}}}',
        ((OPENAI_SVC, "openai_api_key"),),
    ),
    # AWS
    Case(
        "env dump",
        f"AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\nAWS_REGION=eu-west-1",
        ((AWS_ID, "aws_access_key_id"), (AWS_SECRET, "aws_secret_access_key")),
    ),
    Case(
        "cat ~/.aws/credentials",
        f"[default]\naws_access_key_id = {AWS_ID_2}\naws_secret_access_key = {AWS_SECRET_2}\nregion = us-east-1\n",
        ((AWS_ID_2, "aws_access_key_id"), (AWS_SECRET_2, "aws_secret_access_key")),
    ),
    Case(
        "aws sts assume-role output",
        '{\n    "Credentials": {\n'
        f'        "AccessKeyId": "{AWS_STS_ID}",\n'
        f'        "SecretAccessKey": "{AWS_SECRET_3}",\n'
        f'        "SessionToken": "{AWS_SESSION}",\n'
        '        "Expiration": "2025-11-25T13:00:00+00:00"\n    }\n}',
        ((AWS_STS_ID, "aws_access_key_id"), (AWS_SECRET_3, "aws_secret_access_key"), (AWS_SESSION, "token")),
    ),
    Case("prose", f"I think {AWS_ID} is the key that leaked in the CI logs.", ((AWS_ID, "aws_access_key_id"),)),
    # GitHub
    Case(
        "git remote -v",
        f"origin\thttps://{GH_PAT_CLASSIC}@github.com/acme/api.git (fetch)\n"
        f"origin\thttps://{GH_PAT_CLASSIC}@github.com/acme/api.git (push)",
        ((GH_PAT_CLASSIC, "github_token"),),
    ),
    Case("gh auth token", f"{GH_OAUTH}\n", ((GH_OAUTH, "github_token"),)),
    Case("CI log", f"##[debug]Using installation token {GH_APP} for acme/api", ((GH_APP, "github_token"),)),
    Case(
        "git credential fill",
        f"protocol=https\nhost=github.com\nusername=dev\npassword={GH_USER}\n",
        ((GH_USER, "github_token"),),
    ),
    Case(
        "mcp server config",
        f'claude mcp add github -e GITHUB_PERSONAL_ACCESS_TOKEN={GH_PAT_FINE} -- npx -y @modelcontextprotocol/server-github',
        ((GH_PAT_FINE, "github_token"),),
    ),
    # GitLab
    Case(
        "git clone",
        f"git clone https://oauth2:{GITLAB}@gitlab.com/acme/infra.git",
        ((GITLAB, "gitlab_token"),),
    ),
    # Slack
    Case("python source", f'SLACK_BOT_TOKEN = "{SLACK_BOT}"\n', ((SLACK_BOT, "slack_token"),)),
    Case(
        "curl command",
        f'curl -s -H "Authorization: Bearer {SLACK_USER}" https://slack.com/api/auth.test',
        ((SLACK_USER, "slack_token"),),
    ),
    Case(
        "webhook curl",
        "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"deploy done\"}' "
        f"https://hooks.slack.com/services/{SLACK_HOOK_PATH}",
        ((SLACK_HOOK_PATH, "slack_webhook"),),
    ),
    # JWT, bearer, Authorization
    Case(
        "prompt",
        f"This token fails with a 401: {JWT} can you decode it and tell me when it expires?",
        ((JWT, "jwt"),),
    ),
    Case(
        "curl command",
        f'curl -H "Authorization: Bearer {JWT_2}" https://api.example.com/v1/users/me',
        ((JWT_2, "jwt"),),
    ),
    Case(
        "curl command",
        f'curl -s -H "Authorization: Bearer {OPAQUE_BEARER}" https://api.example.com/v2/me',
        ((OPAQUE_BEARER, "bearer_token"),),
    ),
    Case(
        "raw http request",
        f"GET /api/builds HTTP/1.1\r\nHost: ci.example.com\r\nAuthorization: Basic {BASIC_AUTH}\r\nAccept: */*\r\n",
        ((BASIC_AUTH, "authorization"),),
    ),
    # PEM private keys
    Case("cat id_rsa", RSA_KEY + "\n", ((RSA_KEY, "private_key"),)),
    Case(
        "Read tool output with line numbers",
        "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(RSA_KEY.splitlines(), 1)),
        tuple((line, "private_key") for line in RSA_KEY.splitlines()[1:-1]),
        exact=False,
    ),
    Case(
        "bash command writing a key as json",
        f"echo '{{\"deploy_key\": \"{OPENSSH_KEY_ESCAPED}\"}}' > /tmp/key.json",
        ((OPENSSH_KEY_ESCAPED, "private_key"),),
    ),
    Case(
        "truncated tool output",
        "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(EC_KEY_LINES) + "\n(output truncated)",
        tuple((line, "private_key") for line in EC_KEY_LINES),
        exact=False,
    ),
    # URLs with passwords
    Case(
        "env dump",
        f"DATABASE_URL=postgres://app:{DB_PASSWORD}@db.internal:5432/app\nPORT=8080",
        ((DB_PASSWORD, "url_password"),),
    ),
    Case(
        "prompt",
        f"connect with mongodb+srv://admin:{MONGO_PASSWORD}@cluster0.abcd.mongodb.net/?retryWrites=true please",
        ((MONGO_PASSWORD, "url_password"),),
    ),
    Case("python source", f'cache = redis.from_url("redis://:{REDIS_PASSWORD}@localhost:6379/0")', ((REDIS_PASSWORD, "url_password"),)),
    # password= / secret= / token= / api_key= assignments
    Case(
        "mysql command",
        f"mysql -h db.internal -u root --password='{MYSQL_PASSWORD}' app < dump.sql",
        ((MYSQL_PASSWORD, "password"),),
    ),
    Case(
        "docker-compose.yml",
        f"services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: {YAML_PASSWORD}\n",
        ((YAML_PASSWORD, "password"),),
    ),
    Case(
        "curl with a json body",
        f'curl -X POST https://api.example.com/login -d \'{{"user": "ops", "password": "{JSON_PASSWORD}"}}\'',
        ((JSON_PASSWORD, "password"),),
    ),
    Case("shell profile", f"export DB_PASSWORD='{EXPORT_PASSWORD}'\n", ((EXPORT_PASSWORD, "password"),)),
    Case(
        "curl with a query string",
        f'curl "https://auth.example.com/oauth/token?client_id=web&client_secret={CLIENT_SECRET}&grant_type=client_credentials"',
        ((CLIENT_SECRET, "secret"),),
    ),
    Case(
        "WebFetch url",
        f"https://www.googleapis.com/drive/v3/files?access_token={GOOGLE_OAUTH}&pageSize=10",
        ((GOOGLE_OAUTH, "token"),),
    ),
    Case("python settings", f'API_KEY = "{HEX_API_KEY}"\nDEBUG = False\n', ((HEX_API_KEY, "api_key"),)),
    Case("shell profile", f"export CIRCLE_TOKEN={CIRCLE_TOKEN}", ((CIRCLE_TOKEN, "token"),)),
    Case(
        "docker config.json",
        f'{{\n  "auths": {{\n    "registry.example.com": {{\n      "auth": "{DOCKER_AUTH}"\n    }}\n  }}\n}}',
        ((DOCKER_AUTH, "token"),),
    ),
    Case("~/.pypirc", f"[pypi]\nusername = __token__\npassword = {PYPI}\n", ((PYPI, "pypi_token"),)),
    Case("vault login", f"vault login --token {VAULT}", ((VAULT, "vault_token"),)),
    Case(
        "curl basic auth",
        f"curl -u deploy:{CURL_PASSWORD} https://ci.example.com/api/v1/builds",
        ((CURL_PASSWORD, "password"),),
    ),
    # high-entropy values in env-style assignments
    Case(
        "env dump",
        f"TERM=xterm-256color\nMEILI_MASTER={MEILI_MASTER}\nPINECONE_ENVIRONMENT_SIG={PINECONE}\nLANG=C.UTF-8",
        ((MEILI_MASTER, "high_entropy"), (PINECONE, "high_entropy")),
    ),
    # other vendors
    Case(".npmrc", f"//registry.npmjs.org/:_authToken={NPM}\n", ((NPM, "npm_token"),)),
    Case(
        "firebase config",
        f'const firebaseConfig = {{ apiKey: "{GOOGLE_API}", authDomain: "acme.firebaseapp.com" }};',
        ((GOOGLE_API, "google_api_key"),),
    ),
    Case("prompt", f"charge the card with {STRIPE} and tell me what fails", ((STRIPE, "stripe_key"),)),
    Case("env dump", f"HF_HOME=/data/hf\nHF_TOKEN={HUGGINGFACE}\n", ((HUGGINGFACE, "huggingface_token"),)),
    # more places secrets hide
    Case("heroku command", f"heroku config:set SECRET_KEY_BASE={RAILS_SECRET}", ((RAILS_SECRET, "secret"),)),
    Case(
        "azure connection string",
        f"AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AZURE_KEY};"
        "EndpointSuffix=core.windows.net",
        ((AZURE_KEY, "api_key"),),
    ),
    Case(
        "kubectl command",
        f"kubectl create secret generic db --from-literal=password={K8S_PASSWORD} --from-literal=user=app",
        ((K8S_PASSWORD, "password"),),
    ),
    Case("curl header", f'curl -H "X-Auth-Token: {HEX_API_KEY}" https://api.example.com/v1/ping', ((HEX_API_KEY, "token"),)),
    Case(
        "git config",
        f'git config --global url."https://x-access-token:{GH_APP}@github.com/".insteadOf "https://github.com/"',
        ((GH_APP, "github_token"),),
    ),
]

# Payload fragments: secrets under secret-sounding keys, in lists, and as dict keys.
STRUCTURED: list[tuple[str, Any, tuple[tuple[str, str], ...]]] = [
    (
        "Bash tool_input with env",
        {"command": "./deploy.sh", "env": {"DB_PASSWORD": "c0rrect-h0rse-9", "GITHUB_TOKEN": GH_APP}},
        (("c0rrect-h0rse-9", "password"), (GH_APP, "github_token")),
    ),
    (
        "WebFetch headers",
        {"url": "https://api.example.com", "headers": {"Authorization": f"Bearer {JWT_2}"}},
        ((JWT_2, "jwt"),),
    ),
    (
        "MCP tool input",
        {"auth": {"username": "ops", "password": YAML_PASSWORD, "api_token": GENERIC_TOKEN}},
        ((YAML_PASSWORD, "password"), (GENERIC_TOKEN, "token")),
    ),
    ("secret as a dict key", {GH_PAT_CLASSIC: "cached"}, ((GH_PAT_CLASSIC, "github_token"),)),
    ("argv list", ["aws", "configure", "set", "aws_access_key_id", AWS_ID], ((AWS_ID, "aws_access_key_id"),)),
    ("env-style dict", {"env": {"MEILI_MASTER": MEILI_MASTER}}, ((MEILI_MASTER, "high_entropy"),)),
]

NON_SECRETS: list[tuple[str, str]] = [
    ("git sha", "commit 4f2a9c1b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b\nAuthor: Dev <dev@example.com>"),
    ("git log --oneline", "a1b2c3d Fix token refresh race\n9f8e7d6 Add password reset flow"),
    ("uuid", "9f1c2d3e-4b5a-6789-abcd-ef0123456789"),
    ("tool use id", "toolu_01ABCdefGHIjklMNOpqrSTU"),
    ("base64 image", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
    ("sk- word", "pip install scikit-learn  # aka sk-learn, imported as sklearn"),
    ("sk-proj in prose", "project keys start with sk-proj- and service accounts with sk-svcacct-"),
    ("sk- identifier", "see the sk-proj-setup-guide-for-new-users page"),
    ("token placeholder", "export GITHUB_TOKEN=<YOUR_TOKEN>"),
    ("password changeme", "password=changeme"),
    ("env reference", "API_KEY=${API_KEY}"),
    ("command substitution", "export GITHUB_TOKEN=$(gh auth token)"),
    ("empty values", "token=\npassword=\"\"\napi_key=None"),
    ("npm integrity", '"integrity": "sha512-wjK3aLoLHbUiUlbxEN+Hhf58aXtVjdv4e/EtKnKd2iDdBv0Y/5lsvxMZ42ewjcLsCH3YA6vcUxT69w46IV017Q=="'),
    ("cargo lock", 'checksum = "73cb78eafa9e654f1259a014657425bf572a32fce0b5d590617d0f38d7accd58"'),
    ("poetry lock", '{file = "requests-2.32.3-py3-none-any.whl", hash = "sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"}'),
    ("AKIA in prose", "AWS access key ids start with AKIA (long-term) or ASIA (temporary)."),
    ("AWS docs example", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("AKIA placeholder", "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX"),
    ("camelCase identifier", "const value = getAuthorizationHeaderValueFromRequestContextForTenant(ctx)"),
    ("url with user only", "git clone https://dev@github.com/acme/api.git"),
    ("plain urls", "https://github.com/anthropics/claude-code/issues/123 and postgres://localhost:5432/mydb"),
    ("url with placeholder password", "postgres://user:password@localhost:5432/app"),
    ("jwt without signature", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("jwt-looking garbage", "eyJfakeheaderXXXX.eyJfakepayloadXXX.notasignatureatallreally"),
    ("token counts", "max_tokens=4096 input_tokens: 1523 output_tokens: 87 tokenizer=cl100k_base"),
    ("python code", 'password = request.form["password"]\ntoken = self._get_token()\nsecret = settings.secret'),
    ("python signature", "def login(username: str, password: str, token: Optional[str] = None) -> bool:"),
    ("typescript", "const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY, timeout: 30_000 });"),
    ("kubernetes yaml", "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password"),
    ("github actions", "with:\n  token: ${{ secrets.GITHUB_TOKEN }}\n  password: ${{ secrets.REGISTRY_PASSWORD }}"),
    ("masked output", "password: ********\ntoken: ghp_************************************"),
    ("path env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("pwd env", "PWD=/home/dev/projects/agent-journal\nOLDPWD=/home/dev"),
    ("digests in env", "GIT_COMMIT=4f2a9c1b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b\nPYTHON_SHA256=73cb78eafa9e654f1259a014657425bf572a32fce0b5d590617d0f38d7accd58"),
    ("uuid in env", "TERM_SESSION_ID=w0t0p0:5D3F8A2C-1B4E-4F6A-9C8D-7E6F5A4B3C2D\nCLAUDE_SESSION=9f1c2d3e-4b5a-6789-abcd-ef0123456789"),
    ("model name in env", "ANTHROPIC_MODEL=claude-sonnet-4-5-20250929\nAWS_REGION=us-east-1"),
    ("node options", "NODE_OPTIONS=--max-old-space-size=4096 --enable-source-maps"),
    ("docker user", "docker run --rm -u 1000:1000 -v $PWD:/src node:20 npm test"),
    ("git push -u", "git push -u origin feature/token-refresh"),
    ("prose about bearer", "Bearer tokens are sent in the Authorization header on every request."),
    ("header placeholders", 'curl -H "Authorization: Bearer $API_TOKEN" -H "Authorization: Bearer <token>" https://x.io'),
    ("ssh public key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8F2rXbN3m1hQk9vJ5tL0pW7sYcZ4aE6dR2uT8iO1x dev@laptop"),
    ("public key block", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4q8F2rXbN3m1hQk9vJ5tL0pW7sYc\n-----END PUBLIC KEY-----"),
    ("private key header in prose", "Never commit files that start with -----BEGIN PRIVATE KEY----- to the repo."),
    ("npm resolved url", '"resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz"'),
    ("docker digest", "image: ghcr.io/acme/api@sha256:e4c58958181a5925816faa528ce959e487632f4cfd192f8132f71b32df2744b4"),
    ("tool response", "Successfully wrote 42 lines to /home/dev/proj/src/auth/token_store.py"),
    ("password rules prose", "The password must be at least 12 characters; the token expires after 1 hour."),
    ("json schema", '{"password": {"type": "string", "minLength": 12}, "token": {"type": "string"}}'),
    ("go code", 'token := os.Getenv("GITHUB_TOKEN")\nif token == "" {\n    return errMissingToken\n}'),
    ("terraform", "password = var.db_password\nusername = var.db_user"),
    ("rust code", "let key: String = format!(\"{}:{}\", tenant, id);"),
    ("ethereum address", "send it to 0x4c0883a69102937d6231471b5dbb6204fe512961 on mainnet"),
    ("base64 md5 in prose", "the Content-MD5 header was 1B2M2Y8AsgTpgAmY7PhCfg== for the empty body"),
    ("harmless env", "CLAUDE_CODE_ENTRYPOINT=cli\nVIRTUAL_ENV=/home/dev/proj/.venv\nAWS_PROFILE=default"),
    ("ls colors", "LS_COLORS=rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35:bd=40;33;01"),
    ("pnpm lock", "resolution: {integrity: sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+5QsW2Jm8CiKQ5yYk7NjVjGb8PCv4Lh2CHiUUYQ==}"),
    ("session json", '{"session_id": "9f1c2d3e-4b5a-6789-abcd-ef0123456789", "transcript_path": "/home/dev/.claude/projects/x/9f1c.jsonl"}'),
    ("token type", '{"token_type": "Bearer", "expires_in": 3600, "scope": "read write"}'),
    ("k8s secret name", "secret_name: prod-db-creds\nsecretName: tls-cert\nSECRET_NAME=prod-db-credentials-v2"),
    ("oauth metadata", '{"token_endpoint": "https://auth.example.com/oauth/token", "token_endpoint_auth_methods": ["client_secret_basic"]}'),
    ("sentry dsn", 'sentry_sdk.init(dsn="https://3f2a9c1b4d5e6f7a@o123.ingest.sentry.io/456", traces_sample_rate=0.1)'),
    ("prose about passwords", "Rotate the password and the API key after the incident; tokens expire in 1h."),
]

"""What each provider kind needs to authenticate and to reach it: one CredentialSpec per kind.

The provider (how to authenticate, where to send requests) is kept apart from the protocol
(how the wire maps), as PydanticAI does: `azure_openai` speaks the OpenAI wire, `bedrock` and
`vertex` the Anthropic (and for Vertex the Gemini) wire, each with its own credentials.

A spec declares the kind's fields beyond the shared API key, base URL and extra headers:
which are secret (written only, shown as "set, ends in …abcd"), which are required, which say
where requests go (`destination`: changing one needs every stored secret entered again, as a
new base URL does), and how each is validated. The values live together in one encrypted JSON
object (ProviderConfig.credentials); the admin form, the API serializer, the provider services
and the adapters' settings builder all read this one table, so a kind's fields are declared
once. Plain Python: adapters import it for scrubbing, and they know nothing of Django.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Check = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class CredentialField:
    name: str
    label: str
    secret: bool = False
    required: bool = False
    destination: bool = False
    multiline: bool = False
    max_length: int = 200
    help_text: str = ""
    check: Check | None = None
    # The parts of a secret that scrubbing looks for (default: the whole value). A service
    # account JSON is mostly public text; only its key material is searched for.
    scrub_parts: Callable[[str], list[str]] | None = None
    # A URL inside the value that receives something secret (a service account's token_uri):
    # the model checks it against the egress policy like a base URL.
    url_in_value: Callable[[str], str | None] | None = None


CrossCheck = Callable[[Mapping[str, str], str], dict[str, str]]


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    kind: str
    fields: tuple[CredentialField, ...] = ()
    api_key: Literal["required", "optional", "unused"] = "required"
    base_url: Literal["required", "optional"] = "optional"
    base_url_help: str = "Optional override of the provider's default address."
    # Checks across fields, given the kind's values and the API key: {field: problem}.
    cross_check: CrossCheck | None = None
    # Whether the kind may run with no secret at all (a keyless local server, an instance role).
    keyless: bool = False

    def field(self, name: str) -> CredentialField | None:
        return next((f for f in self.fields if f.name == name), None)

    def label(self, name: str) -> str:
        """The field's label for messages; its name when the kind has no such field."""
        field = self.field(name)
        return field.label if field else name

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.secret)

    @property
    def destination_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.destination)


# -- field checks -------------------------------------------------------------------------
def _pattern(regex: str, message: str) -> Check:
    compiled = re.compile(regex)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else message

    return check


def _printable(value: str) -> str | None:
    if re.fullmatch(r"[\x21-\x7e]*", value):
        return None
    return "Printable ASCII without spaces or line breaks."


API_VERSION = _pattern(
    r"\d{4}-\d{2}-\d{2}(-preview)?|v1|latest|preview",
    "An Azure OpenAI API version such as 2024-10-21 or 2025-01-01-preview.",
)
AWS_REGION = _pattern(
    r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "An AWS region such as us-east-1 or eu-west-3."
)
ACCESS_KEY_ID = _pattern(r"[A-Z0-9]{16,128}", "An AWS access key id (capital letters, digits).")
GCP_PROJECT = _pattern(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "A Google Cloud project id such as my-project-123."
)
GCP_LOCATION = _pattern(
    r"global|us|eu|[a-z]+-[a-z]+\d+",
    "A Vertex AI location such as us-central1, europe-west4 or global.",
)


ENTRA_TENANT = _pattern(
    r"[A-Za-z0-9][A-Za-z0-9.-]{0,99}",
    "A Microsoft Entra tenant: its id (a GUID) or its domain, e.g. contoso.onmicrosoft.com.",
)
ENTRA_CLIENT_ID = _pattern(
    r"[A-Za-z0-9-]{1,64}", "The application (client) id of the app registration, a GUID."
)


def _authority(value: str) -> str | None:
    if not re.fullmatch(r"https?://[^\s?#@/]+/?", value):
        return "The authority host as an http(s) URL, e.g. https://login.microsoftonline.com."
    return None


def _authority_url(value: str) -> str | None:
    return value or None


def _deployments(value: str) -> str | None:
    try:
        mapping = json.loads(value)
    except json.JSONDecodeError:
        mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", v)
        for k, v in mapping.items()
    ):
        return (
            'A JSON object of model names to deployment names, e.g. {"gpt-4o": "prod-gpt4o"} '
            "(deployment names: letters, digits, '.', '_', '-')."
        )
    return None


SERVICE_ACCOUNT_KEYS = ("type", "client_email", "private_key", "token_uri")


def service_account_info(value: str) -> dict[str, str]:
    """The parsed service-account JSON; ValueError (without any of its text) if it is not one."""
    try:
        info = json.loads(value)
    except json.JSONDecodeError:
        raise ValueError("The service account key is not valid JSON.") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(
            'The service account key must be a JSON object with "type": "service_account".'
        )
    missing = [k for k in SERVICE_ACCOUNT_KEYS if not isinstance(info.get(k), str) or not info[k]]
    if missing:
        raise ValueError(f"The service account key lacks {', '.join(missing)}.")
    if "PRIVATE KEY-----" not in info["private_key"]:
        raise ValueError("The service account key's private_key is not a PEM private key.")
    if not re.fullmatch(r"https?://[^\s?#@]+", info["token_uri"]):
        raise ValueError("The service account key's token_uri is not an http(s) URL.")
    return info


def _service_account(value: str) -> str | None:
    try:
        service_account_info(value)
    except ValueError as exc:
        return str(exc)
    return None


def _token_uri(value: str) -> str | None:
    try:
        return service_account_info(value)["token_uri"]
    except ValueError:
        return None


def _service_account_secrets(value: str) -> list[str]:
    try:
        info = json.loads(value)
    except json.JSONDecodeError:
        return [value]
    if not isinstance(info, dict):
        return [value]
    parts = [str(info.get("private_key_id") or "")]
    key = str(info.get("private_key") or "")
    # The PEM body, line by line (an upstream may echo the key with its line breaks gone).
    parts += [line for line in key.splitlines() if line and "-----" not in line]
    return [p for p in parts if p]


# -- cross checks -------------------------------------------------------------------------
ENTRA_CLIENT_FIELDS = ("entra_tenant_id", "entra_client_id", "entra_client_secret")


def _azure_check(values: Mapping[str, str], api_key: str) -> dict[str, str]:
    given = [name for name in ENTRA_CLIENT_FIELDS if values.get(name)]
    if given and len(given) < len(ENTRA_CLIENT_FIELDS):
        missing = next(name for name in ENTRA_CLIENT_FIELDS if not values.get(name))
        return {
            missing: "Enter the tenant id, the client id and the client secret together (an "
            "app registration that may use the resource)."
        }
    ways = [bool(api_key), bool(values.get("entra_token")), bool(given)]
    if sum(ways) > 1:
        return {
            "entra_token" if values.get("entra_token") else "entra_client_secret": "Enter one "
            "way to authenticate: an API key, an Entra ID token, or an app registration."
        }
    if not any(ways):
        return {
            "api_key": "Azure OpenAI needs an API key, a Microsoft Entra ID token, or an app "
            "registration (tenant id, client id, client secret)."
        }
    return {}


def _bedrock_check(values: Mapping[str, str], api_key: str) -> dict[str, str]:
    has_id = bool(values.get("aws_access_key_id"))
    has_secret = bool(values.get("aws_secret_access_key"))
    if has_id != has_secret:
        name = "aws_secret_access_key" if has_id else "aws_access_key_id"
        return {
            name: "Enter both the access key id and the secret access key, or neither (to use "
            "the instance role)."
        }
    if values.get("aws_session_token") and not has_id:
        return {"aws_session_token": "A session token goes with an access key id and secret."}
    return {}


# -- the specs ----------------------------------------------------------------------------
SPECS: dict[str, CredentialSpec] = {
    "openai": CredentialSpec(kind="openai"),
    "anthropic": CredentialSpec(kind="anthropic"),
    "gemini": CredentialSpec(kind="gemini"),
    "openai_compatible": CredentialSpec(
        kind="openai_compatible",
        api_key="optional",
        base_url="required",
        base_url_help="The server's OpenAI-compatible base URL, e.g. http://ollama:11434/v1.",
        keyless=True,
    ),
    "azure_openai": CredentialSpec(
        kind="azure_openai",
        api_key="optional",
        base_url="required",
        base_url_help="The resource endpoint, e.g. https://my-resource.openai.azure.com "
        "(no path, no query string: the API version is its own field).",
        fields=(
            CredentialField(
                "api_version",
                "API version",
                required=True,
                max_length=40,
                check=API_VERSION,
                help_text="Sent as ?api-version=, e.g. 2024-10-21.",
            ),
            CredentialField(
                "entra_token",
                "Microsoft Entra ID token",
                secret=True,
                max_length=8000,
                check=_printable,
                help_text="An access token for https://cognitiveservices.azure.com, sent as a "
                "Bearer token instead of the API key. It is not renewed: it stops working when "
                "it expires (about an hour); an app registration below renews its own.",
            ),
            CredentialField(
                "entra_tenant_id",
                "Entra tenant id",
                destination=True,
                max_length=100,
                check=ENTRA_TENANT,
                help_text="With the client id and secret: tokens are requested from this "
                "tenant (OAuth client credentials) and renewed before they expire.",
            ),
            CredentialField(
                "entra_client_id",
                "Entra client id",
                max_length=64,
                check=ENTRA_CLIENT_ID,
                help_text="The application (client) id of an app registration with the "
                "Cognitive Services OpenAI User role on the resource.",
            ),
            CredentialField(
                "entra_client_secret",
                "Entra client secret",
                secret=True,
                max_length=1000,
                check=_printable,
                help_text="A client secret of that app registration.",
            ),
            CredentialField(
                "entra_authority",
                "Entra authority",
                destination=True,
                max_length=200,
                check=_authority,
                url_in_value=_authority_url,
                help_text="Optional: the token host for a national cloud (default "
                "https://login.microsoftonline.com).",
            ),
            CredentialField(
                "deployments",
                "Deployments",
                max_length=4000,
                multiline=True,
                check=_deployments,
                help_text="Optional JSON object of model names to deployment names, e.g. "
                '{"gpt-4o": "prod-gpt4o"}; a model not listed is called as the deployment '
                "of its own name.",
            ),
        ),
        cross_check=_azure_check,
    ),
    "bedrock": CredentialSpec(
        kind="bedrock",
        api_key="unused",
        base_url_help="Optional override of https://bedrock-runtime.<region>.amazonaws.com.",
        keyless=True,
        fields=(
            CredentialField(
                "region",
                "AWS region",
                required=True,
                destination=True,
                max_length=40,
                check=AWS_REGION,
            ),
            CredentialField(
                "aws_access_key_id",
                "AWS access key id",
                secret=True,
                max_length=128,
                check=ACCESS_KEY_ID,
                help_text="Leave this and the secret blank to use the instance role.",
            ),
            CredentialField(
                "aws_secret_access_key",
                "AWS secret access key",
                secret=True,
                max_length=128,
                check=_printable,
            ),
            CredentialField(
                "aws_session_token",
                "AWS session token",
                secret=True,
                max_length=4000,
                check=_printable,
                help_text="Only for temporary credentials.",
            ),
        ),
        cross_check=_bedrock_check,
    ),
    "vertex": CredentialSpec(
        kind="vertex",
        api_key="unused",
        base_url_help="Optional override of https://<location>-aiplatform.googleapis.com.",
        fields=(
            CredentialField(
                "project_id",
                "Project id",
                required=True,
                destination=True,
                max_length=30,
                check=GCP_PROJECT,
            ),
            CredentialField(
                "location",
                "Location",
                required=True,
                destination=True,
                max_length=40,
                check=GCP_LOCATION,
            ),
            CredentialField(
                "service_account_json",
                "Service account key (JSON)",
                secret=True,
                required=True,
                multiline=True,
                max_length=20000,
                check=_service_account,
                scrub_parts=_service_account_secrets,
                url_in_value=_token_uri,
                help_text="The JSON key file of a service account with the Vertex AI User role.",
            ),
        ),
    ),
}
DEFAULT_SPEC = CredentialSpec(kind="")


def credential_spec(kind: str) -> CredentialSpec:
    return SPECS.get(kind, DEFAULT_SPEC)


# -- operations on a kind's values ----------------------------------------------------------
def secret_hint(value: str) -> str:
    """'set, ends in …abcd' for display; never more than the last four characters."""
    if not value:
        return "not set"
    return f"set, ends in …{value.strip()[-4:]}" if len(value) >= 12 else "set"


def credentials_merge(
    kind: str, stored: Mapping[str, str], entered: Mapping[str, str | None]
) -> dict[str, str]:
    """The kind's values after a save: entered values replace stored ones ("" or None removes
    one), fields the kind does not declare are dropped."""
    spec = credential_spec(kind)
    merged: dict[str, str] = {}
    for item in spec.fields:
        value = entered[item.name] if item.name in entered else stored.get(item.name)
        value = (value or "").strip()
        if value:
            merged[item.name] = value
    return merged


def credentials_problems(kind: str, values: Mapping[str, str], *, api_key: str) -> dict[str, str]:
    """{field: problem} for the kind's values as they would be saved (field names of the spec,
    or `api_key`). Problems never quote a secret."""
    spec = credential_spec(kind)
    problems: dict[str, str] = {}
    unknown = sorted(set(values) - {f.name for f in spec.fields})
    if unknown:
        problems[unknown[0]] = f"{kind or 'This kind'} has no credential field {unknown[0]!r}."
    for item in spec.fields:
        value = values.get(item.name, "")
        if not value:
            if item.required:
                problems[item.name] = f"{item.label} is required for this kind."
            continue
        if len(value) > item.max_length:
            problems[item.name] = f"{item.label} is longer than {item.max_length} characters."
        elif item.check is not None and (problem := item.check(value)):
            problems[item.name] = problem
    if spec.api_key == "unused" and api_key:
        problems["api_key"] = f"{kind} providers take no API key; use the fields of the kind."
    if not problems and spec.cross_check is not None:
        problems.update(spec.cross_check(values, api_key))
    return problems


def credentials_missing(kind: str, values: Mapping[str, str], *, api_key: str) -> str | None:
    """Why a provider of this kind cannot authenticate with what is stored, or None."""
    spec = credential_spec(kind)
    if spec.keyless:
        return None
    if spec.api_key == "required" and not api_key:
        return "has no API key"
    if (
        kind == "azure_openai"
        and not api_key
        and not values.get("entra_token")
        and not all(values.get(name) for name in ENTRA_CLIENT_FIELDS)
    ):
        return "has no API key, Entra ID token or app registration"
    missing = [f.label for f in spec.fields if f.required and not values.get(f.name)]
    if missing:
        return f"has no {', '.join(missing)}"
    return None


def credentials_public(kind: str, values: Mapping[str, str]) -> dict[str, str]:
    """What may be shown of the kind's values: plain values as they are, secrets as hints."""
    return {
        f.name: secret_hint(values.get(f.name, "")) if f.secret else values.get(f.name, "")
        for f in credential_spec(kind).fields
    }


def credential_urls(kind: str, values: Mapping[str, str]) -> dict[str, str]:
    """{field: URL} of the URLs inside the kind's values that receive secrets."""
    found: dict[str, str] = {}
    for item in credential_spec(kind).fields:
        value = values.get(item.name, "")
        if value and item.url_in_value is not None and (url := item.url_in_value(value)):
            found[item.name] = url
    return found


def credential_secrets(kind: str, values: Mapping[str, str]) -> list[str]:
    """The strings scrubbing must remove for the kind's stored secrets."""
    found: list[str] = []
    for item in credential_spec(kind).fields:
        value = values.get(item.name, "")
        if item.secret and value:
            found += item.scrub_parts(value) if item.scrub_parts else [value]
    return found


def credentials_split(kind: str, values: Mapping[str, str]) -> tuple[str, str]:
    """(secrets, destination) of the kind's values as canonical JSON ("" when there are none):
    what the credentials binding digests and where it binds them."""
    spec = credential_spec(kind)
    secrets = {n: values[n] for n in spec.secret_names if values.get(n)}
    destination = {n: values.get(n, "") for n in spec.destination_names}
    return (
        json.dumps(secrets, sort_keys=True) if secrets else "",
        json.dumps(destination, sort_keys=True) if destination else "",
    )

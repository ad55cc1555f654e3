"""AWS, once: the boto3 session, botocore failures turned into errors that say what to do, the
"describe it, or None when it does not exist" reading, and the names every AWS reader shares.

boto3 is imported only inside functions: `validate` and `diff` must not pay for it (tests/unit/test_imports.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import JobworkError

TABLE_TYPE = "AWS::DynamoDB::Table"
# An emulator on this machine (moto, DynamoDB Local) accepts any credentials and region.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
LOCAL_REGION = "us-east-1"
# What an engine answers for an API it lacks (DynamoDB Local: tags; moto: some actions).
UNSUPPORTED_CODES = {"UnknownOperationException", "UnrecognizedClientException", "NotImplementedError"}


def aws_session(*, profile: str | None, region: str | None, endpoint_url: str | None, env: str) -> Any:
    """A boto3 Session(profile, region), for deploy and destroy and for `import` and `drift`.

    An emulator on this machine (moto) accepts any credentials and region; when none are configured
    fixed ones are used, so `deploy --endpoint-url http://127.0.0.1:PORT` works on a fresh machine.
    """
    import boto3
    from botocore.exceptions import NoRegionError, ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        if is_loopback(endpoint_url):
            credentials = {} if session.get_credentials() else LOCAL_CREDENTIALS
            session = boto3.Session(profile_name=profile, region_name=session.region_name or LOCAL_REGION,
                                    **credentials)
        if session.region_name is None:
            raise NoRegionError()
        return session
    except ProfileNotFound as exc:
        raise JobworkError(str(exc), "check the name with `aws configure list-profiles`") from None
    except NoRegionError:
        raise JobworkError(f"no AWS region for environment {env!r}",
                           f"pass --region, or set region: under environments.{env} in the schema") from None


class Lazy:
    """A client made on its first use."""

    def __init__(self, make: Any):
        self._make, self._client = make, None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def is_loopback(url: str | None) -> bool:
    from urllib.parse import urlparse

    return bool(url) and urlparse(url).hostname in ("127.0.0.1", "localhost", "::1")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn botocore failures into JobworkError with what to do, never a traceback."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        WaiterError,
    )
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise JobworkError(f"{action} failed: {error.get('Code', 'error')}: {error.get('Message', exc)}") from None
    except NoCredentialsError:
        raise JobworkError(f"{action} failed: no AWS credentials",
                           "pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
    except EndpointConnectionError as exc:
        raise JobworkError(f"{action} failed: cannot reach {exc.kwargs.get('endpoint_url')}",
                           "check --endpoint-url and that the server there is running") from None
    except WaiterError as exc:
        raise JobworkError(f"{action} failed: {exc}") from None
    except BotoCoreError as exc:
        raise JobworkError(f"{action} failed: {exc}") from None
    except ResponseParserError:
        # What an emulator answers for an action it lacks (moto: UpdateTerminationProtection).
        raise JobworkError(f"{action} failed: the endpoint's answer is not an AWS response",
                           "the endpoint may not implement this action; try it against AWS") from None


def error_code(error: Any) -> str:
    """The AWS error code of a botocore ClientError."""
    return error.response.get("Error", {}).get("Code", "")


def is_unsupported(error: Any) -> bool:
    """The engine does not implement the call (DynamoDB Local: tags, moto: some table options)."""
    message = error.response.get("Error", {}).get("Message", "")
    return error_code(error) in UNSUPPORTED_CODES or "not currently supported" in message \
        or "Nothing to update" in message or "not supported" in message.lower()


def describe_table_or_none(client: Any, name: str) -> dict | None:
    """DescribeTable's Table, or None when there is no such table (ResourceNotFoundException)."""
    from botocore.exceptions import ClientError

    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise

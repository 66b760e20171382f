"""Google's Python API client (google-api-python-client, discovery-based) with google-auth's service-account
JWT flow against the Google sandbox.

Every expectation comes from Google's documentation:
https://developers.google.com/analytics/devguides/config/userdeletion/v3/reference/userDeletion/userDeletionRequest
(resource, including webPropertyId and firebaseProjectId), .../userdeletion/v3/limits-quotas,
https://developers.google.com/analytics/devguides/limits-and-quotas ("403 or 429", daily reset at midnight
Pacific), https://github.com/googleapis/googleapis/blob/master/google/api/error_reason.proto (ErrorInfo).
"""

import json
import time

import google_auth_httplib2
import httplib2
from google.oauth2 import service_account
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError

from checks import Checks, control, sandboxes

SCOPE = "https://www.googleapis.com/auth/analytics.user.deletion"


def error_body(error):
    return json.loads(error.content.decode("utf-8")).get("error", {})


def quota_limits(body):
    return [d.get("metadata", {}).get("quota_limit", "") for d in body.get("details", []) if "ErrorInfo" in d.get("@type", "")]


def main():
    started = sandboxes()
    sandbox = started["sandboxes"]["google"]
    url = sandbox["url"]
    env = sandbox["env"]
    property_id = env["GA4_PROPERTY_IDS"].split(",")[0].removeprefix("properties/")
    checks = Checks("google-api-python-client + google-auth (Python)")

    # The key file names Google's token URL; the sandbox's stands in for it, as GOOGLE_TOKEN_URL does for the hub.
    credentials = service_account.Credentials.from_service_account_file(
        env["GOOGLE_APPLICATION_CREDENTIALS"], scopes=[SCOPE]
    ).with_token_uri(f"{url}/token")
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(ca_certs=started["caFile"]))
    document = json.loads(get_static_doc("analytics", "v3"))
    document["rootUrl"] = f"{url}/"
    analytics = build_from_document(document, http=http)
    requests_api = analytics.userDeletion().userDeletionRequest()

    def upsert(body):
        return requests_api.upsert(body={"kind": "analytics#userDeletionRequest", **body}).execute()

    with checks.section("a GA4 upsert through the discovery client"):
        first_upsert(checks, upsert, credentials, property_id)
    with checks.section("an unpaced second upsert"):
        per_second_refusal(checks, upsert, property_id)
    with checks.section("legacy webPropertyId and firebaseProjectId"):
        legacy_properties(checks, upsert, url)
    with checks.section("over the daily quota"):
        daily_refusal(checks, upsert, url, env, property_id)
    checks.finish()


def first_upsert(checks, upsert, credentials, property_id):
    first = upsert({"id": {"type": "CLIENT_ID", "userId": "1197596843.1673515212"}, "propertyId": property_id})
    checks.expect(
        "upsert through the discovery client echoes the request with deletionRequestTime",
        first.get("kind") == "analytics#userDeletionRequest"
        and first.get("propertyId") == property_id
        and first.get("id") == {"type": "CLIENT_ID", "userId": "1197596843.1673515212"}
        and bool(first.get("deletionRequestTime")),
        first,
    )
    checks.expect("google-auth got a bearer token from the JWT grant", bool(credentials.token) and credentials.valid)


def per_second_refusal(checks, upsert, property_id):
    try:
        upsert({"id": {"type": "CLIENT_ID", "userId": "2083349251.1684401133"}, "propertyId": property_id})
        checks.expect("an unpaced second request is refused", False)
    except HttpError as error:
        body = error_body(error)
        checks.expect(
            "a per-second refusal is 429 RESOURCE_EXHAUSTED / rateLimitExceeded",
            error.resp.status == 429
            and body.get("status") == "RESOURCE_EXHAUSTED"
            and body.get("errors", [{}])[0].get("reason") == "rateLimitExceeded",
            (error.resp.status, body),
        )
        checks.expect(
            "its ErrorInfo names a per-second limit, not a daily one",
            any("PerSecond" in limit for limit in quota_limits(body)) and "per day" not in body.get("message", ""),
            quota_limits(body),
        )



def legacy_properties(checks, upsert, url):
    control(url, "seed", {"webProperties": ["UA-12345-1"], "firebaseProjects": ["demo-firebase-project"]})
    legacy = upsert({"id": {"type": "CLIENT_ID", "userId": "1.1"}, "webPropertyId": "UA-12345-1"})
    checks.expect(
        "a legacy webPropertyId (UA) upsert is accepted with the same answer shape",
        legacy.get("webPropertyId") == "UA-12345-1" and bool(legacy.get("deletionRequestTime")) and "propertyId" not in legacy,
        legacy,
    )
    firebase = upsert({"id": {"type": "APP_INSTANCE_ID", "userId": "app-1"}, "firebaseProjectId": "demo-firebase-project"})
    checks.expect(
        "a firebaseProjectId upsert is accepted with the same answer shape",
        firebase.get("firebaseProjectId") == "demo-firebase-project" and bool(firebase.get("deletionRequestTime")),
        firebase,
    )



def daily_refusal(checks, upsert, url, env, property_id):
    with open(env["GOOGLE_APPLICATION_CREDENTIALS"]) as key_file:
        project = json.load(key_file)["project_id"]
    control(url, "seed", {"quotaUsed": {"projects": {project: 500}}})
    time.sleep(1.0)  # let the per-second bucket refill, so only the daily quota can refuse
    try:
        upsert({"id": {"type": "USER_ID", "userId": "crm-user-17"}, "propertyId": property_id})
        checks.expect("a request over the daily quota is refused", False)
    except HttpError as error:
        body = error_body(error)
        checks.expect(
            "a daily-quota refusal is 429 (not 403), told apart by 'per day' in message and ErrorInfo",
            error.resp.status == 429
            and "per day" in body.get("message", "")
            and any("PerDay" in limit for limit in quota_limits(body)),
            (error.resp.status, body.get("message"), quota_limits(body)),
        )


if __name__ == "__main__":
    main()

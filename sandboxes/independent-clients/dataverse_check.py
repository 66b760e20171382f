"""MSAL for Python (client credentials) and plain `requests` calls against the Dynamics sandbox.

Every expectation comes from Microsoft's documentation (learn.microsoft.com):
- entra/identity-platform/v2-oauth2-client-creds-grant-flow (token request, client_secret_basic via RFC 6749),
  entra/identity-platform/reference-error-codes (AADSTS500011 invalid_resource)
- power-apps/developer/data-platform/webapi/query/filter-rows, order-rows, count-rows, page-results
- power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api (ETag, 412)
- power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api (return=representation)
- power-apps/developer/data-platform/auditing/delete-audit-data (DeleteRecordChangeHistory)
- power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api ($batch, change sets,
  odata.continue-on-error); the multipart answer is read with Python's own `email` parser
"""

import base64
import json
import email.parser
import email.policy
import uuid
from urllib.parse import quote

import msal
import requests

from checks import Checks, control, sandboxes

ODATA = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}


def main():
    checks = Checks("MSAL for Python + requests (Dataverse Web API)")
    env = sandboxes()["sandboxes"]["dynamics"]["env"]
    url = sandboxes()["sandboxes"]["dynamics"]["url"]
    tenant, client_id, secret = env["DYNAMICS_TENANT_ID"], env["DYNAMICS_CLIENT_ID"], env["DYNAMICS_CLIENT_SECRET"]
    org = env["DYNAMICS_URL"].rstrip("/")
    token_url = f"{url}/{tenant}/oauth2/v2.0/token"
    api = f"{org}/api/data/v9.2"
    control(url, "reset")
    headers = dict(ODATA)

    with checks.section("MSAL acquires a client-credentials token (secret in the body)"):
        app = msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=f"{url}/{tenant}",
            # The sandbox is not a known Entra cloud; MSAL reads the tenant's own metadata instead.
            instance_discovery=False,
        )
        result = app.acquire_token_for_client(scopes=[f"{org}/.default"])
        checks.expect("MSAL got an access token", "access_token" in result, result.get("error_description"))
        headers["Authorization"] = f"Bearer {result.get('access_token')}"

    with checks.section("MSAL sees invalid_resource (AADSTS500011) for a resource the tenant does not have"):
        other = app.acquire_token_for_client(scopes=["https://other-org.crm4.dynamics.com/.default"])
        checks.expect("error is invalid_resource", other.get("error") == "invalid_resource", other.get("error"))
        checks.expect("code 500011", 500011 in other.get("error_codes", []), other.get("error_codes"))

    with checks.section("client_secret_basic on the token endpoint (MSAL only sends the secret in the body)"):
        basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
        answer = requests.post(
            token_url,
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials", "scope": f"{org}/.default"},
            timeout=30,
        )
        checks.expect("Basic-authenticated token request answers 200", answer.status_code == 200, answer.text)

    people = [
        {"firstname": "Ada", "lastname": "Lovelace", "emailaddress1": "ada@fresh.example", "donotbulkemail": True},
        {"firstname": "Grace", "lastname": "Hopper", "emailaddress1": "grace@fresh.example"},
        {"firstname": "Alan", "lastname": "Turing", "emailaddress1": "alan@fresh.example"},
    ]
    ids = {}
    with checks.section("POST contacts"):
        for person in people:
            answer = requests.post(f"{api}/contacts", headers=headers, json=person, timeout=30)
            checks.expect(f"create {person['firstname']} answers 204", answer.status_code == 204, answer.status_code)
            ids[person["firstname"]] = answer.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")

    def query(params, prefer=None):
        extra = {"Prefer": prefer} if prefer else {}
        answer = requests.get(f"{api}/contacts", headers={**headers, **extra}, params=params, timeout=30)
        answer.raise_for_status()
        return answer.json()

    with checks.section("$filter, $orderby, $count"):
        body = query({
            "$select": "firstname",
            "$filter": "endswith(emailaddress1,'@fresh.example') and (not (firstname eq 'Grace') or donotbulkemail eq true)",
            "$orderby": "firstname desc",
            "$count": "true",
        })
        names = [row["firstname"] for row in body["value"]]
        checks.expect("filter with endswith/not/and/or and orderby desc", names == ["Alan", "Ada"], names)
        checks.expect("@odata.count counts the matches", body.get("@odata.count") == 2, body.get("@odata.count"))
        body = query({"$select": "firstname", "$filter": "firstname in ('Ada','Alan') and lastname eq 'Turing'"})
        checks.expect("in (...) followed by and", [r["firstname"] for r in body["value"]] == ["Alan"], body["value"])
        body = query({"$select": "firstname", "$filter": f"contactid eq {ids['Grace']}"})
        checks.expect("GUID literal", [r["firstname"] for r in body["value"]] == ["Grace"], body["value"])
        body = query({"$select": "firstname", "$filter": "modifiedon ge 2000-01-01T00:00:00Z and emailaddress2 eq null"})
        checks.expect("DateTimeOffset and null literals", len(body["value"]) >= 3, len(body["value"]))

    with checks.section("Prefer: odata.maxpagesize ignores $top; a next page without Prefer uses the default size"):
        first = query({"$select": "firstname", "$top": "1"}, prefer="odata.maxpagesize=2")
        checks.expect("first page has 2 rows ($top ignored)", len(first["value"]) == 2, len(first["value"]))
        link = first.get("@odata.nextLink")
        checks.expect("a next link is given", bool(link), first)
        rest = requests.get(link, headers=headers, timeout=30).json() if link else {"value": []}
        checks.expect("the rest comes in one default-size page", len(rest["value"]) >= 1 and "@odata.nextLink" not in rest, rest)

    grace = f"{api}/contacts({ids['Grace']})"
    with checks.section("PATCH with an ETag, return=representation, and 412 for a stale ETag"):
        etag = requests.get(grace, headers=headers, timeout=30).json()["@odata.etag"]
        answer = requests.patch(
            grace,
            headers={**headers, "If-Match": etag, "Prefer": "return=representation"},
            params={"$select": "donotemail"},
            json={"donotemail": True},
            timeout=30,
        )
        checks.expect("PATCH with return=representation answers 200", answer.status_code == 200, answer.status_code)
        row = answer.json() if answer.status_code == 200 else {}
        checks.expect("the row comes back updated", row.get("donotemail") is True, row)
        checks.expect("with a new ETag", row.get("@odata.etag") not in (None, etag), row.get("@odata.etag"))
        stale = requests.patch(grace, headers={**headers, "If-Match": etag}, json={"donotphone": True}, timeout=30)
        checks.expect("a stale ETag answers 412", stale.status_code == 412, stale.status_code)
        checks.expect("with Dataverse's error body", "error" in stale.json() and "code" in stale.json()["error"], stale.text)
        stale_delete = requests.delete(grace, headers={**headers, "If-Match": etag}, timeout=30)
        checks.expect("DELETE with a stale ETag answers 412", stale_delete.status_code == 412, stale_delete.status_code)

    def batch(parts, prefer=None):
        """POSTs a $batch of the given parts; answers the HTTP answer and its responses' status lines in order."""
        boundary = f"batch_{uuid.uuid4()}"
        body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
        extra = {"Prefer": prefer} if prefer else {}
        answer = requests.post(
            f"{api}/$batch",
            headers={**headers, **extra, "Content-Type": f"multipart/mixed; boundary={boundary}"},
            data=body.encode("utf-8"),
            timeout=30,
        )
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {answer.headers.get('Content-Type', '')}\r\n\r\n".encode() + answer.content
        )
        statuses = []
        for part in message.walk():
            if part.get_content_type() == "application/http":
                payload = part.get_payload(decode=True) or part.get_payload().encode()
                statuses.append((part.get("Content-ID"), int(payload.split(b" ", 2)[1])))
        return answer, statuses

    def patch(contact_id, values, content_id=None):
        head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        if content_id:
            head += f"Content-ID: {content_id}\r\n"
        return (
            f"{head}\r\nPATCH {api}/contacts({contact_id}) HTTP/1.1\r\n"
            f"Content-Type: application/json\r\nIf-Match: *\r\n\r\n{json.dumps(values)}"
        )

    missing = "00000000-0000-4000-8000-00000000ffff"
    with checks.section("$batch: in order, continue-on-error, and a change set that fails as a group"):
        answer, statuses = batch([patch(ids["Alan"], {"donotemail": True}), patch(missing, {"donotemail": True})])
        checks.expect("without continue-on-error a failure answers 400", answer.status_code == 400, answer.status_code)
        checks.expect("with the responses up to the failure", [s for _, s in statuses] == [204, 404], statuses)
        answer, statuses = batch(
            [patch(missing, {"donotphone": True}), patch(ids["Alan"], {"donotphone": True})],
            prefer="odata.continue-on-error",
        )
        checks.expect("with continue-on-error every request runs", [s for _, s in statuses] == [404, 204], statuses)
        checks.expect(
            "and the preference is applied",
            answer.headers.get("Preference-Applied") == "odata.continue-on-error",
            dict(answer.headers),
        )
        change_set = (
            "Content-Type: multipart/mixed; boundary=changeset_X\r\n\r\n"
            f"--changeset_X\r\n{patch(ids['Alan'], {'donotfax': True}, '1')}\r\n"
            f"--changeset_X\r\n{patch(missing, {'donotfax': True}, '2')}\r\n--changeset_X--"
        )
        answer, statuses = batch([change_set], prefer="odata.continue-on-error")
        checks.expect("a failed change set answers its failing request alone", statuses == [("2", 404)], statuses)
        alan = requests.get(f"{api}/contacts({ids['Alan']})", headers=headers, params={"$select": "donotfax"}, timeout=30)
        checks.expect("and what it did first is rolled back", alan.json().get("donotfax") is False, alan.json())

    with checks.section("DELETE, then DeleteRecordChangeHistory"):
        answer = requests.delete(grace, headers=headers, timeout=30)
        checks.expect("DELETE answers 204", answer.status_code == 204, answer.status_code)
        again = requests.delete(grace, headers=headers, timeout=30)
        checks.expect("a second DELETE answers 404", again.status_code == 404, again.status_code)
        history = requests.post(
            f"{api}/DeleteRecordChangeHistory",
            headers={**headers, "If-None-Match": "null"},
            json={"Target": {"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": ids["Grace"]}},
            timeout=30,
        )
        checks.expect("the action answers 200", history.status_code == 200, history.status_code)
        count = history.json().get("DeletedEntriesCount") if history.status_code == 200 else None
        checks.expect("and counts the audit entries it deleted (create, update, delete)", count == 3, count)

    checks.finish()


if __name__ == "__main__":
    main()

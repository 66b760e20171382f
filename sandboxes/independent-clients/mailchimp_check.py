"""Mailchimp's official Python client (mailchimp-marketing) against the Mailchimp sandbox.

Every expectation comes from Mailchimp's documentation: https://mailchimp.com/developer/marketing/api/ and
/docs/methods-parameters/ (subscriber hash, count, partial responses), /docs/errors/ (problem+json, 405).
"""

import hashlib
import json
import unicodedata

import mailchimp_marketing
from mailchimp_marketing.api_client import ApiClientError

from checks import Checks, sandboxes


def md5_of_lower(address):
    return hashlib.md5(address.lower().encode("utf-8")).hexdigest()


def problem(error):
    text = error.text
    return text if isinstance(text, dict) else json.loads(text) if isinstance(text, str) else {}


def refused(checks, what, call, status, title=None, detail=None):
    """Expects the client to raise Mailchimp's problem with this status (and title / detail fragment)."""
    try:
        call()
        checks.expect(what, False, "no error")
    except ApiClientError as error:
        body = problem(error)
        checks.expect(
            what,
            error.status_code == status
            and (title is None or body.get("title") == title)
            and (detail is None or detail in body.get("detail", "")),
            (error.status_code, body),
        )


def main():
    sandbox = sandboxes()["sandboxes"]["mailchimp"]
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": sandbox["env"]["MAILCHIMP_API_KEY"]})
    # The client builds https://<dc>.api.mailchimp.com/3.0 from the key; its host is a plain attribute.
    client.api_client.host = sandbox["env"]["MAILCHIMP_API_URL"]
    checks = Checks("mailchimp-marketing (Python)")
    state = {}

    with checks.section("ping and a new audience"):
        checks.expect("ping answers Everything's Chimpy!", client.ping.get().get("health_status") == "Everything's Chimpy!")
        state["list_id"] = client.lists.create_list(
            {
                "name": "Independent client",
                "permission_reminder": "You signed up on our website.",
                "email_type_option": False,
                "contact": {"company": "Ex", "address1": "1 Street", "city": "Town", "country": "SE", "zip": "1"},
                "campaign_defaults": {"from_name": "Ex", "from_email": "news@example.com", "subject": "", "language": "en"},
            }
        )["id"]
    list_id = state.get("list_id", "missing")

    with checks.section("count above 1000 and fields"):
        # The client itself refuses count > 1000 before sending; the raw call shows what the server does.
        lists = client.api_client.call_api("/lists", "GET", query_params={"count": 5000, "fields": "lists.id,total_items"})
        checks.expect("count above 1000 is capped, not refused", isinstance(lists, dict) and "lists" in lists, lists)
        checks.expect(
            "fields keeps only lists.id and total_items",
            set(lists) == {"lists", "total_items"} and all(set(entry) == {"id"} for entry in lists["lists"]),
            lists,
        )

    address = "Ada.Lovelace@Example.com"
    with checks.section("upsert, member fields, the address as member path, name search"):
        put = client.lists.set_list_member(
            list_id,
            md5_of_lower(address),
            {"email_address": address, "status_if_new": "subscribed", "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"}},
        )
        checks.expect("PUT upserts with the MD5 of the lower-cased address as id", put.get("id") == md5_of_lower(address), put.get("id"))
        member = client.lists.get_list_member(list_id, md5_of_lower(address))
        checks.expect(
            "a member carries full_name, contact_id, email_type and tags",
            member.get("full_name") == "Ada Lovelace"
            and bool(member.get("contact_id"))
            and member.get("email_type") in ("html", "text")
            and member.get("tags") == [],
            {k: member.get(k) for k in ("full_name", "contact_id", "email_type", "tags")},
        )
        by_address = client.lists.get_list_member(list_id, address.lower())
        checks.expect("the member path accepts the address itself", by_address.get("id") == member.get("id"))
        found = client.searchMembers.search("Lovelace", list_id=list_id)
        names = [m["email_address"] for part in ("exact_matches", "full_search") for m in found[part]["members"]]
        checks.expect("search-members matches a last name", names == [address], names)

    spaced = " Grace@Example.com "
    with checks.section("an address stored with spaces"):
        client.lists.add_list_member(list_id, {"email_address": spaced, "status": "subscribed"})
        stored = client.lists.get_list_member(list_id, md5_of_lower(spaced))
        checks.expect("an address with spaces is kept as given", stored.get("email_address") == spaced, stored.get("email_address"))
        refused(
            checks,
            "the trimmed address's hash is another member (404)",
            lambda: client.lists.get_list_member(list_id, md5_of_lower(spaced.strip())),
            404,
        )
        searched = client.searchMembers.search("grace@example.com", list_id=list_id)
        checks.expect(
            "search-members finds the spaced address by the bare one",
            [m["id"] for m in searched["exact_matches"]["members"]] == [md5_of_lower(spaced)],
            searched["exact_matches"],
        )

    with checks.section("an NFD address, and archiving a pending member"):
        nfd = unicodedata.normalize("NFD", "Zoé@example.com")
        created = client.lists.add_list_member(list_id, {"email_address": nfd, "status": "pending"})
        checks.expect("an NFD address is hashed as stored", created.get("id") == md5_of_lower(nfd), created.get("id"))
        refused(
            checks,
            "archiving a pending member answers 405 Method Not Allowed",
            lambda: client.lists.delete_list_member(list_id, md5_of_lower(nfd)),
            405,
            title="Method Not Allowed",
        )

    with checks.section("405 and 404 on paths"):
        refused(
            checks,
            "a method the path does not support answers 405 problem+json",
            lambda: client.api_client.call_api("/lists/{list_id}/members", "PUT", path_params={"list_id": list_id}, body={}),
            405,
            title="Method Not Allowed",
            detail="Allow header",
        )
        refused(checks, "an unknown path answers 404", lambda: client.api_client.call_api("/no-such-resource", "GET"), 404)

    with checks.section("batch subscribe or unsubscribe (lists/batch-subscribe-or-unsubscribe)"):
        answer = client.lists.batch_list_members(
            list_id,
            {
                "members": [
                    {"email_address": "batch.one@example.com", "status": "unsubscribed"},
                    {"email_address": "batch.two@example.com", "status": "subscribed"},
                ],
                "update_existing": True,
            },
        )
        checks.expect("two new members", answer.get("total_created") == 2 and len(answer.get("new_members", [])) == 2, answer)
        again = client.lists.batch_list_members(
            list_id,
            {"members": [{"email_address": "batch.two@example.com", "status": "unsubscribed"}]},
        )
        checks.expect(
            "an existing member without update_existing is ERROR_CONTACT_EXISTS",
            [e.get("error_code") for e in again.get("errors", [])] == ["ERROR_CONTACT_EXISTS"] and again.get("error_count") == 1,
            again,
        )
        update = client.lists.batch_list_members(
            list_id,
            {
                "members": [
                    {"email_address": "batch.two@example.com", "status": "unsubscribed"},
                    {"email_address": "batch.one@example.com", "status": "subscribed"},
                ],
                "update_existing": True,
            },
        )
        checks.expect("update_existing unsubscribes the member", update.get("total_updated") == 1, update)
        checks.expect(
            "and refuses to re-subscribe an unsubscribed one, per member",
            [e.get("email_address") for e in update.get("errors", [])] == ["batch.one@example.com"],
            update,
        )
        refused(
            checks,
            "501 members is an invalid resource",
            lambda: client.lists.batch_list_members(
                list_id,
                {"members": [{"email_address": f"m{i}@example.com", "status": "unsubscribed"} for i in range(501)]},
            ),
            400,
            title="Invalid Resource",
        )

    with checks.section("delete-permanent"):
        deleted = client.lists.delete_list_member_permanent(list_id, md5_of_lower(address))
        checks.expect("delete-permanent answers 204", getattr(deleted, "status_code", None) == 204, deleted)
        refused(
            checks,
            "a permanently deleted member is gone (404)",
            lambda: client.lists.get_list_member(list_id, md5_of_lower(address)),
            404,
        )
        refused(
            checks,
            "re-adding a deleted address answers 400 Forgotten Email Not Subscribed",
            lambda: client.lists.set_list_member(
                list_id, md5_of_lower(address), {"email_address": address, "status_if_new": "subscribed"}
            ),
            400,
            title="Forgotten Email Not Subscribed",
        )

    checks.finish()


if __name__ == "__main__":
    main()

"""Seeds a freshly provisioned Samba AD domain controller for the tests, before it starts.

Usage: /usr/bin/python3 samba-seed.py <smb.conf> <seed.json>

Works on the domain's sam.ldb directly as the system (what samba-tool does), which also lets
it give objects the objectGUIDs of the demo tenant: a client may never choose an objectGUID
over LDAP, but the seed may, so the demo personas keep their ids on AD. Prints one JSON
object: {"objects": {key: {"dn": ..., "guid": ...}}, "serviceAccountSid": ...}.

The seed (JSON) holds:
  ous:      ["Northwind", "People,Northwind", ...]       OUs, parent last, created in order
  policy:   {minPwdLength, complexity, historyLength, lockoutThreshold, lockoutMinutes}
  users:    [{key, ou, cn, sam, upn?, guid?, password, enabled, synced, locked, mustChange,
              lastLogon?: ISO time, attrs: {displayName, givenName, sn, mail, department, title},
              manager?: key}]
  groups:   [{key, ou, cn, sam, guid?, attrs: {...}, managedBy?: key, members: [key]}]
  serviceAccount: {cn, sam, upn, password, delegateOn: ou}  least-privilege helpdesk account
"""

import datetime
import json
import sys
import time
import uuid

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
from samba.sd_utils import SDUtils

UF_NORMAL_ACCOUNT = 0x200
UF_ACCOUNTDISABLE = 0x2
UF_DONT_EXPIRE_PASSWD = 0x10000
GROUP_TYPE_GLOBAL_SECURITY = -2147483646


def filetime_now():
    return str(int((time.time() + 11644473600) * 10_000_000))


def filetime_of(iso):
    # Whole seconds in integers: a float would round away the low digits of a FILETIME.
    t = round(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    return str((t + 11644473600) * 10_000_000)


def main():
    lp = LoadParm()
    lp.load(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        seed = json.load(f)
    db = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
    base = str(db.domain_dn())
    objects = {}

    def ou_dn(path):
        dn = base
        for part in reversed([p for p in path.split(",") if p]):
            child = ldb.Dn(db, "OU=x," + dn)
            child.set_component(0, "OU", part)
            dn = str(child)
        return dn

    def child_dn(parent, cn):
        dn = ldb.Dn(db, "CN=x," + parent)
        dn.set_component(0, "CN", cn)
        return str(dn)

    def guid_of(dn):
        res = db.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["objectGUID"])
        return str(uuid.UUID(bytes_le=bytes(res[0]["objectGUID"][0])))

    # Policy on the domain head.
    p = seed.get("policy")
    if p:
        m = ldb.Message(ldb.Dn(db, base))
        minutes = -int(p["lockoutMinutes"]) * 60 * 10_000_000
        for name, value in {
            "minPwdLength": p["minPwdLength"],
            "pwdProperties": 1 if p["complexity"] else 0,
            "pwdHistoryLength": p["historyLength"],
            "minPwdAge": 0,
            "lockoutThreshold": p["lockoutThreshold"],
            "lockoutDuration": minutes,
            "lockOutObservationWindow": minutes,
        }.items():
            m[name] = ldb.MessageElement(str(value), ldb.FLAG_MOD_REPLACE, name)
        db.modify(m)

    for path in seed.get("ous", []):
        db.add({"dn": ou_dn(path), "objectClass": "organizationalUnit"})

    users = seed.get("users", [])
    for u in users:
        dn = child_dn(ou_dn(u["ou"]), u["cn"])
        uac = UF_NORMAL_ACCOUNT | (0 if u.get("enabled", True) else UF_ACCOUNTDISABLE)
        msg = {
            "dn": dn,
            "objectClass": "user",
            "sAMAccountName": u["sam"],
            "userAccountControl": str(uac),
            "unicodePwd": ('"%s"' % u["password"]).encode("utf-16-le"),
        }
        if u.get("upn"):
            msg["userPrincipalName"] = u["upn"]
        for name, value in (u.get("attrs") or {}).items():
            if value is not None:
                msg[name] = value.encode("utf-8")
        controls = []
        if u.get("guid"):
            msg["objectGUID"] = uuid.UUID(u["guid"]).bytes_le
            controls = ["relax:0"]
        db.add(msg, controls=controls)
        objects[u["key"]] = {"dn": dn, "guid": guid_of(dn)}

    for u in users:
        dn = objects[u["key"]]["dn"]
        m = ldb.Message(ldb.Dn(db, dn))
        if u.get("manager"):
            m["manager"] = ldb.MessageElement(objects[u["manager"]]["dn"], ldb.FLAG_MOD_REPLACE, "manager")
        if u.get("synced"):
            # What Entra Connect writes: the objectGUID's bytes become the source anchor.
            anchor = uuid.UUID(objects[u["key"]]["guid"]).bytes_le
            m["mS-DS-ConsistencyGuid"] = ldb.MessageElement(anchor, ldb.FLAG_MOD_REPLACE, "mS-DS-ConsistencyGuid")
        if u.get("locked"):
            m["lockoutTime"] = ldb.MessageElement(filetime_now(), ldb.FLAG_MOD_REPLACE, "lockoutTime")
        if u.get("mustChange"):
            m["pwdLastSet"] = ldb.MessageElement("0", ldb.FLAG_MOD_REPLACE, "pwdLastSet")
        if u.get("lastLogon"):
            m["lastLogonTimestamp"] = ldb.MessageElement(filetime_of(u["lastLogon"]), ldb.FLAG_MOD_REPLACE, "lastLogonTimestamp")
        if len(m) > 0:
            db.modify(m)

    groups = seed.get("groups", [])
    for g in groups:
        dn = child_dn(ou_dn(g["ou"]), g["cn"])
        msg = {
            "dn": dn,
            "objectClass": "group",
            "sAMAccountName": g["sam"],
            "groupType": str(GROUP_TYPE_GLOBAL_SECURITY),
        }
        for name, value in (g.get("attrs") or {}).items():
            if value is not None:
                msg[name] = value.encode("utf-8")
        controls = []
        if g.get("guid"):
            msg["objectGUID"] = uuid.UUID(g["guid"]).bytes_le
            controls = ["relax:0"]
        db.add(msg, controls=controls)
        objects[g["key"]] = {"dn": dn, "guid": guid_of(dn)}

    for g in groups:
        m = ldb.Message(ldb.Dn(db, objects[g["key"]]["dn"]))
        if g.get("managedBy"):
            m["managedBy"] = ldb.MessageElement(objects[g["managedBy"]]["dn"], ldb.FLAG_MOD_REPLACE, "managedBy")
        members = [objects[k]["dn"] for k in g.get("members", [])]
        if members:
            m["member"] = ldb.MessageElement(members, ldb.FLAG_MOD_REPLACE, "member")
        if len(m) > 0:
            db.modify(m)

    result = {"objects": objects}
    sa = seed.get("serviceAccount")
    if sa:
        dn = child_dn("CN=Users," + base, sa["cn"])
        db.add(
            {
                "dn": dn,
                "objectClass": "user",
                "sAMAccountName": sa["sam"],
                "userPrincipalName": sa["upn"],
                "userAccountControl": str(UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD),
                "unicodePwd": ('"%s"' % sa["password"]).encode("utf-16-le"),
            }
        )
        sid = str(ldb_sid(db, dn))
        delegate(db, base, ou_dn(sa["delegateOn"]), sid)
        result["serviceAccountDn"] = dn
        result["serviceAccountSid"] = sid

    print(json.dumps(result))


def ldb_sid(db, dn):
    from samba.dcerpc import security
    from samba.ndr import ndr_unpack

    res = db.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["objectSid"])
    return ndr_unpack(security.dom_sid, bytes(res[0]["objectSid"][0]))


def schema_guid(db, name):
    res = db.search(
        base=str(db.get_schema_basedn()),
        scope=ldb.SCOPE_ONELEVEL,
        expression="(lDAPDisplayName=%s)" % name,
        attrs=["schemaIDGUID"],
    )
    return str(uuid.UUID(bytes_le=bytes(res[0]["schemaIDGUID"][0])))


def right_guid(db, cn):
    res = db.search(
        base="CN=Extended-Rights," + str(db.get_config_basedn()),
        scope=ldb.SCOPE_ONELEVEL,
        expression="(cn=%s)" % cn,
        attrs=["rightsGuid"],
    )
    return str(res[0]["rightsGuid"][0])


def delegate(db, base, ou, sid):
    """The least-privilege delegation of docs/deploy.md, inherited by the users and groups under `ou`."""
    user = schema_guid(db, "user")
    group = schema_guid(db, "group")
    aces = [
        # Reset Password (not Change Password: no old password is known).
        "(OA;CIIO;CR;%s;%s;%s)" % (right_guid(db, "User-Force-Change-Password"), user, sid),
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "pwdLastSet"), user, sid),
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "lockoutTime"), user, sid),
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "userAccountControl"), user, sid),
        # Profile updates (a mover's department, title and manager).
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "department"), user, sid),
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "title"), user, sid),
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "manager"), user, sid),
        "(OA;CIIO;WP;%s;%s;%s)" % (schema_guid(db, "member"), group, sid),
    ]
    sd = SDUtils(db)
    for ace in aces:
        sd.dacl_add_ace(ou, ace)


if __name__ == "__main__":
    main()

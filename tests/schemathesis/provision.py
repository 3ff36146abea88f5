"""Provisions a tenant on a running orgdrive for the schemathesis run and
prints it as shell assignments (`KEY=value`, shell-quoted) for run.sh to eval:
an org, an app holding every storage scope, an org-admin user and an access
token (tests/support/orgdrive_server.py, shared with the other Python
runners), a space (AddSpace), one committed file in it (GetFileUploadInfo,
PUT, CommitFile) and the space's recycle bin (GetRecycleBin), so that
generated requests get past authentication and reach real spaces, files and
bins.

Usage: provision.py BASE_URL ADMIN_TOKEN   (standard library only)"""

import shlex
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from orgdrive_server import ALL_SCOPES, AdminClient, HttpError, call_json, http_json, provision  # noqa: E402


def main(base, admin_token):
    tenant = provision(base, AdminClient(base, admin_token), scopes=ALL_SCOPES,
                       app_name="schemathesis", user_name="Fuzz")
    auth = {"x-acs-dingtalk-access-token": tenant.token}
    query = urllib.parse.urlencode({"unionId": tenant.union_id})
    storage = f"{base}/v1.0/storage"
    space = call_json("POST", f"{storage}/spaces?{query}",
                      {"option": {"name": "schemathesis", "scene": "fuzz", "sceneId": "1"}},
                      auth)["space"]
    space_id = space["id"]

    content = b"hello, schemathesis\n"
    info = call_json("POST", f"{storage}/spaces/{space_id}/files/uploadInfos/query?{query}",
                     {"protocol": "HEADER_SIGNATURE", "multipart": False}, auth)
    signature = info["headerSignatureInfo"]
    status, headers, body = http_json("PUT", signature["resourceUrls"][0], content,
                                      {"Content-Type": "application/octet-stream", **signature["headers"]})
    if status != 200:
        raise HttpError("PUT", signature["resourceUrls"][0], status, headers, body)
    dentry = call_json("POST", f"{storage}/spaces/{space_id}/files/commit?{query}",
                       {"uploadKey": info["uploadKey"], "name": "hello.txt", "parentId": "0",
                        "option": {"size": len(content)}}, auth)["dentry"]

    # The space's recycle bin, so that the recycle bin operations reach a real one.
    bin_query = urllib.parse.urlencode(
        {"unionId": tenant.union_id, "recycleBinScope": "SPACE", "scopeId": space_id})
    recycle_bin = call_json("GET", f"{storage}/recycleBins?{bin_query}", None, auth)["recycleBin"]

    values = {
        "ORGDRIVE_CORP_ID": tenant.corp_id,
        "ORGDRIVE_UNION_ID": tenant.union_id,
        "ORGDRIVE_ACCESS_TOKEN": tenant.token,
        "ORGDRIVE_SPACE_ID": space_id,
        "ORGDRIVE_FILE_ID": dentry["id"],
        "ORGDRIVE_RECYCLE_BIN_ID": recycle_bin["id"],
    }
    for key, value in values.items():
        print(f"{key}={shlex.quote(value)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.rsplit("\n\n", 1)[-1])
    main(*sys.argv[1:3])

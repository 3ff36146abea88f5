"""Provisions a tenant on a running orgdrive for the schemathesis run and
prints it as shell assignments (`KEY=value`, shell-quoted) for run.sh to eval:
an org, an app holding every storage scope, an org-admin user (admin API), an
access token (GetAccessToken), a space (AddSpace) and one committed file in it
(GetFileUploadInfo, PUT, CommitFile), so that generated requests get past
authentication and reach real spaces and files.

Usage: provision.py BASE_URL ADMIN_TOKEN   (standard library only)"""

import json
import shlex
import sys
import urllib.request

ALL_SCOPES = [
    "Storage.Space.Write", "Storage.Space.Read", "Storage.Org.Read", "Storage.File.Write",
    "Storage.File.Read", "Storage.UploadInfo.Read", "Storage.DownloadInfo.Read",
]


def call(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main(base, admin_token):
    admin = {"Authorization": f"Bearer {admin_token}"}
    org = call("POST", f"{base}/admin/v1/orgs", {"name": "schemathesis"}, admin)
    corp_id = org["corpId"]
    app = call("POST", f"{base}/admin/v1/orgs/{corp_id}/apps",
               {"name": "schemathesis", "scopes": ALL_SCOPES}, admin)
    user = call("POST", f"{base}/admin/v1/orgs/{corp_id}/users",
                {"name": "Fuzz", "orgAdmin": True}, admin)
    union_id = user["unionId"]
    token = call("POST", f"{base}/v1.0/oauth2/accessToken",
                 {"appKey": app["appKey"], "appSecret": app["appSecret"]})["accessToken"]

    auth = {"x-acs-dingtalk-access-token": token}
    storage = f"{base}/v1.0/storage"
    space = call("POST", f"{storage}/spaces?unionId={union_id}",
                 {"option": {"name": "schemathesis", "scene": "fuzz", "sceneId": "1"}},
                 auth)["space"]
    space_id = space["id"]

    content = b"hello, schemathesis\n"
    info = call("POST", f"{storage}/spaces/{space_id}/files/uploadInfos/query?unionId={union_id}",
                {"protocol": "HEADER_SIGNATURE", "multipart": False}, auth)
    signature = info["headerSignatureInfo"]
    put = urllib.request.Request(signature["resourceUrls"][0], data=content, method="PUT",
                                 headers=signature["headers"])
    with urllib.request.urlopen(put, timeout=30) as response:
        response.read()
    dentry = call("POST", f"{storage}/spaces/{space_id}/files/commit?unionId={union_id}",
                  {"uploadKey": info["uploadKey"], "name": "hello.txt", "parentId": "0",
                   "option": {"size": len(content)}}, auth)["dentry"]

    values = {
        "ORGDRIVE_CORP_ID": corp_id,
        "ORGDRIVE_UNION_ID": union_id,
        "ORGDRIVE_ACCESS_TOKEN": token,
        "ORGDRIVE_SPACE_ID": space_id,
        "ORGDRIVE_FILE_ID": dentry["id"],
    }
    for key, value in values.items():
        print(f"{key}={shlex.quote(value)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])

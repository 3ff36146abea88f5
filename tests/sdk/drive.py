"""A thin helper over the official SDK for the file tests: one tenant acting
in one space. Every API call goes through alibabacloud_dingtalk.storage_1_0;
only the raw PUT/GET of bytes to the signed URLs uses urllib, as a DingTalk
client would use any HTTP client."""

import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import add_space, runtime, storage_client
from orgdrive_server import http_json


class Drive:
    def __init__(self, server, tenant, space_id=None, **space_option):
        self.server = server
        self.tenant = tenant
        self.client = storage_client(server)
        if space_id is None:
            option = m.AddSpaceRequestOption(**space_option) if space_option else None
            space_id = add_space(self.client, tenant, option).body.space.id
        self.space_id = space_id

    def h(self, cls):
        return self.tenant.headers(cls)

    @property
    def uid(self):
        return self.tenant.union_id

    # ---- reads ------------------------------------------------------------
    def space(self):
        return self.client.get_space_with_options(
            self.space_id, m.GetSpaceRequest(union_id=self.uid), self.h(m.GetSpaceHeaders),
            runtime()).body.space

    def get(self, dentry_id, **option):
        request = m.GetDentryRequest(union_id=self.uid, option=m.GetDentryRequestOption(**option))
        return self.client.get_dentry_with_options(
            self.space_id, dentry_id, request, self.h(m.GetDentryHeaders), runtime()).body.dentry

    def gets(self, ids, **option):
        request = m.GetDentriesRequest(union_id=self.uid, dentry_ids=ids,
                                       option=m.GetDentriesRequestOption(**option) if option else None)
        return self.client.get_dentries_with_options(
            self.space_id, request, self.h(m.GetDentriesHeaders), runtime()).body.result_items

    def list(self, parent_id="0", **kw):
        request = m.ListDentriesRequest(union_id=self.uid, parent_id=parent_id, **kw)
        return self.client.list_dentries_with_options(
            self.space_id, request, self.h(m.ListDentriesHeaders), runtime()).body

    def list_all(self, **option):
        request = m.ListAllDentriesRequest(
            union_id=self.uid, option=m.ListAllDentriesRequestOption(**option))
        return self.client.list_all_dentries_with_options(
            self.space_id, request, self.h(m.ListAllDentriesHeaders), runtime()).body

    def walk(self, parent_id="0", page_size=50, **kw):
        """Every entry of a folder, page by page; returns (entries, pages)."""
        entries, token, pages = [], None, 0
        while True:
            body = self.list(parent_id, max_results=page_size, next_token=token, **kw)
            entries += body.dentries
            pages += 1
            token = body.next_token
            if not token:
                return entries, pages

    def raw(self, method, tail, body=None, **query):
        """The storage API over plain HTTP, for what the SDK cannot express:
        `tail` is the path after /v1.0/storage/spaces/{spaceId}, `query` more
        query parameters. Returns (status, headers, decoded body)."""
        params = urllib.parse.urlencode({"unionId": self.uid, **query})
        url = f"{self.server.base_url}/v1.0/storage/spaces/{self.space_id}{tail}?{params}"
        return http_json(method, url, body, {"x-acs-dingtalk-access-token": self.tenant.token})

    # ---- writes -----------------------------------------------------------
    def add_folder(self, name, parent_id="0", conflict=None, app_properties=None):
        option = m.AddFolderRequestOption(conflict_strategy=conflict, app_properties=app_properties)
        request = m.AddFolderRequest(union_id=self.uid, name=name, option=option)
        return self.client.add_folder_with_options(
            self.space_id, parent_id, request, self.h(m.AddFolderHeaders), runtime()).body.dentry

    def upload_info(self, protocol="HEADER_SIGNATURE", multipart=False, storage_driver=None, **check):
        option = None
        if check or storage_driver:
            option = m.GetFileUploadInfoRequestOption(
                storage_driver=storage_driver,
                pre_check_param=m.GetFileUploadInfoRequestOptionPreCheckParam(**check) if check else None)
        request = m.GetFileUploadInfoRequest(
            union_id=self.uid, multipart=multipart, protocol=protocol, option=option)
        return self.client.get_file_upload_info_with_options(
            self.space_id, request, self.h(m.GetFileUploadInfoHeaders), runtime()).body

    def commit(self, upload_key, name, parent_id="0", conflict=None, size=None,
               app_properties=None, overwrite_dentry_id=None):
        option = m.CommitFileRequestOption(
            conflict_strategy=conflict, size=size, app_properties=app_properties)
        request = m.CommitFileRequest(
            union_id=self.uid, upload_key=upload_key, name=name, parent_id=parent_id,
            option=option, overwrite_dentry_id=overwrite_dentry_id)
        return self.client.commit_file_with_options(
            self.space_id, request, self.h(m.CommitFileHeaders), runtime()).body.dentry

    def upload(self, data, name, parent_id="0", conflict=None, size=None, **kw):
        """The three DingTalk steps: upload info, PUT, commit."""
        info = self.upload_info()
        sig = info.header_signature_info
        status, _, _ = put(sig.resource_urls[0], sig.headers, data)
        assert status == 200, status
        return self.commit(info.upload_key, name, parent_id, conflict, size, **kw)

    def init_multipart(self, **check):
        option = None
        if check:
            option = m.InitMultipartFileUploadRequestOption(
                pre_check_param=m.InitMultipartFileUploadRequestOptionPreCheckParam(**check))
        request = m.InitMultipartFileUploadRequest(union_id=self.uid, option=option)
        return self.client.init_multipart_file_upload_with_options(
            self.space_id, request, self.h(m.InitMultipartFileUploadHeaders), runtime()).body

    def part_urls(self, upload_key, part_numbers):
        request = m.GetMultipartFileUploadInfosRequest(
            union_id=self.uid, upload_key=upload_key, part_numbers=part_numbers)
        body = self.client.get_multipart_file_upload_infos_with_options(
            request, self.h(m.GetMultipartFileUploadInfosHeaders), runtime()).body
        return {i.part_number: i.header_signature_info for i in body.multipart_header_signature_infos}

    def download_info(self, dentry_id, version=None):
        request = m.GetFileDownloadInfoRequest(
            union_id=self.uid, option=m.GetFileDownloadInfoRequestOption(version=version))
        return self.client.get_file_download_info_with_options(
            self.space_id, dentry_id, request, self.h(m.GetFileDownloadInfoHeaders), runtime()).body

    def download(self, dentry_id, version=None, headers=None):
        sig = self.download_info(dentry_id, version).header_signature_info
        return get(sig.resource_urls[0], {**sig.headers, **(headers or {})})


def _send(request):
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def put(url, headers, data):
    """PUTs raw bytes (or a file object, streamed) as DingTalk clients do."""
    request = urllib.request.Request(url, data=data, method="PUT", headers=dict(headers or {}))
    if hasattr(data, "read"):
        request.add_header("Content-Length", str(os.fstat(data.fileno()).st_size))
    return _send(request)


def get(url, headers=None, method="GET"):
    return _send(urllib.request.Request(url, method=method, headers=dict(headers or {})))


def get_sha256(url):
    """Streams a download and returns (status, size, sha256 hex)."""
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(url) as response:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
        return response.status, size, digest.hexdigest()


class SlowPut:
    """A PUT of `total` bytes to a signed URL whose body the test sends piece by
    piece (`send`), then `finish` reads the answer: (status, headers, body)."""

    def __init__(self, url, total):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.conn.putrequest("PUT", f"{parts.path}?{parts.query}", skip_accept_encoding=True)
        self.conn.putheader("Content-Length", str(total))
        self.conn.endheaders()

    def send(self, data):
        self.conn.send(data)

    def close(self):
        self.conn.close()

    def finish(self):
        try:
            response = self.conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            self.conn.close()


def blob_files(data_dir):
    """Every file under DATA_DIR/blobs (content objects, parts, temporaries)."""
    root = os.path.join(str(data_dir), "blobs")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)

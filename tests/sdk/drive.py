"""A thin helper over the official SDK for the file tests: one tenant acting
in one space. Every API call goes through alibabacloud_dingtalk.storage_1_0;
only the raw PUT/GET of bytes to the signed URLs uses urllib, as a DingTalk
client would use any HTTP client."""

import hashlib
import http.client
import os
import time
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

    def thumbnails(self, ids):
        """GetDentryThumbnails; returns the result items."""
        request = m.GetDentryThumbnailsRequest(union_id=self.uid, dentry_ids=ids)
        return self.client.get_dentry_thumbnails_with_options(
            self.space_id, request, self.h(m.GetDentryThumbnailsHeaders), runtime()).body.result_items

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

    def open_info(self, dentry_id, type=None, version=None, **option):
        """GetDentryOpenInfo; returns the body (url, has_water_mark)."""
        request = m.GetDentryOpenInfoRequest(
            union_id=self.uid,
            option=m.GetDentryOpenInfoRequestOption(type=type, version=version, **option))
        return self.client.get_dentry_open_info_with_options(
            self.space_id, dentry_id, request, self.h(m.GetDentryOpenInfoHeaders), runtime()).body

    def register_open_info(self, dentry_id, provider, *infos):
        """RegisterOpenInfo of (openType, url) pairs; returns the body."""
        request = m.RegisterOpenInfoRequest(
            union_id=self.uid, provider=provider,
            open_infos=[m.RegisterOpenInfoRequestOpenInfos(open_type=t, url=u) for t, u in infos])
        return self.client.register_open_info_with_options(
            self.space_id, dentry_id, request, self.h(m.RegisterOpenInfoHeaders), runtime()).body

    def download(self, dentry_id, version=None, headers=None):
        sig = self.download_info(dentry_id, version).header_signature_info
        return get(sig.resource_urls[0], {**sig.headers, **(headers or {})})

    def web_office_url(self, dentry_id):
        """GetWebOfficeUrl; returns the body (webOfficeUrl and the token pair)."""
        request = m.GetWebOfficeUrlRequest(union_id=self.uid)
        return self.client.get_web_office_url_with_options(
            self.space_id, dentry_id, request, self.h(m.GetWebOfficeUrlHeaders), runtime()).body

    def refresh_web_office(self, dentry_id, access_token, refresh_token):
        """RefreshWebOfficeToken; returns the body (the new pair)."""
        request = m.RefreshWebOfficeTokenRequest(
            union_id=self.uid, web_office_access_token=access_token,
            web_office_refresh_token=refresh_token)
        return self.client.refresh_web_office_token_with_options(
            self.space_id, dentry_id, request, self.h(m.RefreshWebOfficeTokenHeaders),
            runtime()).body

    # ---- lifecycle: rename, move, copy, delete --------------------------------
    def rename(self, dentry_id, new_name):
        request = m.RenameDentryRequest(union_id=self.uid, new_name=new_name)
        return self.client.rename_dentry_with_options(
            self.space_id, dentry_id, request, self.h(m.RenameDentryHeaders), runtime()).body.dentry

    def move(self, dentry_id, target_folder_id="0", target_space_id=None, conflict=None,
             preseve_permissions=None):
        """MoveDentry; returns the body (`async_`, `dentry`, `task_id`). The
        SDK's option field is misspelled `preseve_permissions` (JSON
        `presevePermissions`)."""
        option = None
        if conflict or preseve_permissions is not None:
            option = m.MoveDentryRequestOption(
                conflict_strategy=conflict, preseve_permissions=preseve_permissions)
        request = m.MoveDentryRequest(
            union_id=self.uid, target_space_id=target_space_id or self.space_id,
            target_folder_id=target_folder_id, option=option)
        return self.client.move_dentry_with_options(
            self.space_id, dentry_id, request, self.h(m.MoveDentryHeaders), runtime()).body

    def moves(self, ids, target_folder_id="0", target_space_id=None, conflict=None,
              preserve_permissions=None):
        """MoveDentries; returns the result items."""
        option = None
        if conflict or preserve_permissions is not None:
            option = m.MoveDentriesRequestOption(
                conflict_strategy=conflict, preserve_permissions=preserve_permissions)
        request = m.MoveDentriesRequest(
            union_id=self.uid, dentry_ids=ids, target_space_id=target_space_id or self.space_id,
            target_folder_id=target_folder_id, option=option)
        return self.client.move_dentries_with_options(
            self.space_id, request, self.h(m.MoveDentriesHeaders), runtime()).body.result_items

    def copy(self, dentry_id, target_folder_id="0", target_space_id=None, conflict=None):
        """CopyDentry; returns the body (`async_`, `dentry`, `task_id`)."""
        option = m.CopyDentryRequestOption(conflict_strategy=conflict) if conflict else None
        request = m.CopyDentryRequest(
            union_id=self.uid, target_space_id=target_space_id or self.space_id,
            target_folder_id=target_folder_id, option=option)
        return self.client.copy_dentry_with_options(
            self.space_id, dentry_id, request, self.h(m.CopyDentryHeaders), runtime()).body

    def copies(self, ids, target_folder_id="0", target_space_id=None, conflict=None):
        """CopyDentries; returns the result items."""
        option = m.CopyDentriesRequestOption(conflict_strategy=conflict) if conflict else None
        request = m.CopyDentriesRequest(
            union_id=self.uid, dentry_ids=ids, target_space_id=target_space_id or self.space_id,
            target_folder_id=target_folder_id, option=option)
        return self.client.copy_dentries_with_options(
            self.space_id, request, self.h(m.CopyDentriesHeaders), runtime()).body.result_items

    def delete(self, dentry_id, to_recycle_bin=None):
        """DeleteDentry (permanent unless `to_recycle_bin`); returns the body
        (`async_`, `task_id`)."""
        request = m.DeleteDentryRequest(union_id=self.uid, to_recycle_bin=to_recycle_bin)
        return self.client.delete_dentry_with_options(
            self.space_id, dentry_id, request, self.h(m.DeleteDentryHeaders), runtime()).body

    def deletes(self, ids, to_recycle_bin=None):
        """DeleteDentries; returns the result items."""
        option = None if to_recycle_bin is None else m.DeleteDentriesRequestOption(
            to_recycle_bin=to_recycle_bin)
        request = m.DeleteDentriesRequest(union_id=self.uid, dentry_ids=ids, option=option)
        return self.client.delete_dentries_with_options(
            self.space_id, request, self.h(m.DeleteDentriesHeaders), runtime()).body.result_items

    # ---- versions and app properties --------------------------------------------
    def versions(self, dentry_id, max_results=None, next_token=None):
        request = m.ListDentryVersionsRequest(
            union_id=self.uid, max_results=max_results, next_token=next_token)
        return self.client.list_dentry_versions_with_options(
            self.space_id, dentry_id, request, self.h(m.ListDentryVersionsHeaders), runtime()).body

    def revert(self, dentry_id, version):
        request = m.RevertDentryVersionRequest(union_id=self.uid)
        return self.client.revert_dentry_version_with_options(
            self.space_id, dentry_id, str(version), request, self.h(m.RevertDentryVersionHeaders),
            runtime()).body

    def set_properties(self, dentry_id, *props):
        """UpdateDentryAppProperties with (name, value[, visibility]) tuples."""
        request = m.UpdateDentryAppPropertiesRequest(union_id=self.uid, app_properties=[
            m.UpdateDentryAppPropertiesRequestAppProperties(*p) for p in props])
        return self.client.update_dentry_app_properties_with_options(
            self.space_id, dentry_id, request, self.h(m.UpdateDentryAppPropertiesHeaders),
            runtime()).body

    def remove_properties(self, dentry_id, names):
        request = m.DeleteDentryAppPropertiesRequest(union_id=self.uid, property_names=names)
        return self.client.delete_dentry_app_properties_with_options(
            self.space_id, dentry_id, request, self.h(m.DeleteDentryAppPropertiesHeaders),
            runtime()).body

    def properties(self, dentry_id):
        """The dentry's app properties by owning app id, read over plain HTTP
        (the Python SDK parses the map under a placeholder key)."""
        status, _, body = self.raw("POST", f"/dentries/{dentry_id}/query", {})
        assert status == 200, body
        return body["dentry"].get("appProperties", {})

    # ---- permissions ------------------------------------------------------------
    @staticmethod
    def members(*members):
        """Grantees from (type, id[, corpId]) tuples."""
        return [m.AddPermissionRequestMembers(type=t, id=i, corp_id=c[0] if c else None)
                for t, i, *c in members]

    def grant(self, dentry_id, role, *members, duration=None):
        """AddPermission of `role` to (type, id[, corpId]) members."""
        request = m.AddPermissionRequest(
            union_id=self.uid, role_id=role, members=self.members(*members),
            option=m.AddPermissionRequestOption(duration=duration) if duration is not None else None)
        return self.client.add_permission_with_options(
            self.space_id, dentry_id, request, self.h(m.AddPermissionHeaders), runtime()).body

    def update_grant(self, dentry_id, role, *members, duration=None):
        request = m.UpdatePermissionRequest(
            union_id=self.uid, role_id=role,
            members=[m.UpdatePermissionRequestMembers(type=t, id=i, corp_id=c[0] if c else None)
                     for t, i, *c in members],
            option=m.UpdatePermissionRequestOption(duration=duration) if duration is not None else None)
        return self.client.update_permission_with_options(
            self.space_id, dentry_id, request, self.h(m.UpdatePermissionHeaders), runtime()).body

    def revoke(self, dentry_id, role, *members):
        request = m.DeletePermissionRequest(
            union_id=self.uid, role_id=role,
            members=[m.DeletePermissionRequestMembers(type=t, id=i, corp_id=c[0] if c else None)
                     for t, i, *c in members])
        return self.client.delete_permission_with_options(
            self.space_id, dentry_id, request, self.h(m.DeletePermissionHeaders), runtime()).body

    def grants(self, dentry_id, **option):
        """ListPermissions (one page)."""
        request = m.ListPermissionsRequest(
            union_id=self.uid, option=m.ListPermissionsRequestOption(**option) if option else None)
        return self.client.list_permissions_with_options(
            self.space_id, dentry_id, request, self.h(m.ListPermissionsHeaders), runtime()).body

    def roles(self, ids):
        """BatchQueryRoles through the SDK (which loses the map's keys)."""
        request = m.BatchQueryRolesRequest(union_id=self.uid, dentry_id_list=ids)
        return self.client.batch_query_roles_with_options(
            self.space_id, request, self.h(m.BatchQueryRolesHeaders), runtime()).body

    def role_map(self, ids):
        """BatchQueryRoles' roleMap over plain HTTP, keyed by dentry id: the
        role ids per dentry (the Python SDK parses the keys away)."""
        import json
        status, _, body = self.raw(
            "POST", "/dentries/permissions/roles/batchQuery", None, dentryIdList=json.dumps(ids))
        assert status == 200, body
        return {k: [r["id"] for r in v] for k, v in body["roleMap"].items()}

    # ---- tasks ----------------------------------------------------------------
    def task(self, task_id):
        return self.client.get_task_with_options(
            task_id, m.GetTaskRequest(union_id=self.uid), self.h(m.GetTaskHeaders), runtime()).body.task

    def wait_task(self, task_id, timeout=120):
        """Polls GetTask until the task finished; returns it."""
        deadline = time.time() + timeout
        while True:
            task = self.task(task_id)
            assert task.id == task_id and task.status in ("INIT", "IN_PROGRESS", "SUCCESS", "FAIL"), \
                task.to_map()
            if task.status in ("SUCCESS", "FAIL"):
                return task
            assert time.time() < deadline, f"task still {task.status} after {timeout} s"
            time.sleep(0.1)

    def settle(self, body):
        """An answer that may be asynchronous (`async_`, `task_id`): waits for
        its task to succeed. Returns the task, or None when it ran at once."""
        if not body.async_:
            assert body.task_id is None, body.to_map()
            return None
        assert body.task_id, body.to_map()
        task = self.wait_task(body.task_id)
        assert task.status == "SUCCESS", task.to_map()
        return task

    # ---- recycle bin ----------------------------------------------------------
    def recycle_bin(self, scope="SPACE", scope_id=None):
        request = m.GetRecycleBinRequest(
            union_id=self.uid, recycle_bin_scope=scope,
            scope_id=self.space_id if scope_id is None else scope_id)
        return self.client.get_recycle_bin_with_options(
            request, self.h(m.GetRecycleBinHeaders), runtime()).body.recycle_bin

    @property
    def bin_id(self):
        """The id of this space's recycle bin."""
        return self.recycle_bin().id

    def recycle_items(self, bin_id=None, max_results=None, next_token=None):
        request = m.ListRecycleItemsRequest(
            union_id=self.uid, max_results=max_results, next_token=next_token)
        return self.client.list_recycle_items_with_options(
            bin_id or self.bin_id, request, self.h(m.ListRecycleItemsHeaders), runtime()).body

    def all_recycle_items(self, bin_id=None, page_size=None):
        """Every item of the bin, page by page; returns (items, pages)."""
        items, token, pages = [], None, 0
        bin_id = bin_id or self.bin_id
        while True:
            body = self.recycle_items(bin_id, max_results=page_size, next_token=token)
            items += body.recycle_items or []
            pages += 1
            token = body.next_token
            if not token:
                return items, pages

    def recycle_item(self, item_id, bin_id=None):
        return self.client.get_recycle_item_with_options(
            bin_id or self.bin_id, item_id, m.GetRecycleItemRequest(union_id=self.uid),
            self.h(m.GetRecycleItemHeaders), runtime()).body.item

    def binned(self, dentry_id):
        """The recycle item of dentry `dentry_id` in this space's bin."""
        found = [i for i in self.all_recycle_items()[0] if i.dentry_id == dentry_id]
        assert len(found) == 1, [i.to_map() for i in found]
        return found[0]

    def restore(self, item_id, bin_id=None, conflict=None):
        """RestoreRecycleItem; returns the body (`async_`, `space_id`, `dentry_id`, `task_id`)."""
        option = m.RestoreRecycleItemRequestOption(conflict_strategy=conflict) if conflict else None
        request = m.RestoreRecycleItemRequest(union_id=self.uid, option=option)
        return self.client.restore_recycle_item_with_options(
            bin_id or self.bin_id, item_id, request, self.h(m.RestoreRecycleItemHeaders),
            runtime()).body

    def restores(self, item_ids, bin_id=None, conflict=None):
        """RestoreRecycleItems; returns the result items."""
        option = m.RestoreRecycleItemsRequestOption(conflict_strategy=conflict) if conflict else None
        request = m.RestoreRecycleItemsRequest(
            union_id=self.uid, recycle_item_ids=item_ids, option=option)
        return self.client.restore_recycle_items_with_options(
            bin_id or self.bin_id, request, self.h(m.RestoreRecycleItemsHeaders),
            runtime()).body.result_items

    def purge(self, item_id, bin_id=None):
        return self.client.delete_recycle_item_with_options(
            bin_id or self.bin_id, item_id, m.DeleteRecycleItemRequest(union_id=self.uid),
            self.h(m.DeleteRecycleItemHeaders), runtime()).body

    def purges(self, item_ids, bin_id=None):
        request = m.DeleteRecycleItemsRequest(union_id=self.uid, recycle_item_ids=item_ids)
        return self.client.delete_recycle_items_with_options(
            bin_id or self.bin_id, request, self.h(m.DeleteRecycleItemsHeaders), runtime()).body

    def clear(self, bin_id=None):
        return self.client.clear_recycle_bin_with_options(
            bin_id or self.bin_id, m.ClearRecycleBinRequest(union_id=self.uid),
            self.h(m.ClearRecycleBinHeaders), runtime()).body

    # ---- events ----------------------------------------------------------------
    def subscribe(self, scope="SPACE", scope_id=None):
        """SubscribeEvent (scope_id: this space for SPACE, the org for ORG)."""
        scope_id = scope_id or (self.space_id if scope == "SPACE" else self.tenant.corp_id)
        request = m.SubscribeEventRequest(union_id=self.uid, scope=scope, scope_id=scope_id)
        return self.client.subscribe_event_with_options(
            request, self.h(m.SubscribeEventHeaders), runtime()).body

    def unsubscribe(self, scope="SPACE", scope_id=None):
        scope_id = scope_id or (self.space_id if scope == "SPACE" else self.tenant.corp_id)
        request = m.UnsubscribeEventRequest(union_id=self.uid, scope=scope, scope_id=scope_id)
        return self.client.unsubscribe_event_with_options(
            request, self.h(m.UnsubscribeEventHeaders), runtime()).body

    def storage_raw(self, method, tail, body=None, **query):
        """Like `raw`, for paths outside a space: `tail` follows /v1.0/storage."""
        params = urllib.parse.urlencode({"unionId": self.uid, **query})
        url = f"{self.server.base_url}/v1.0/storage{tail}?{params}"
        return http_json(method, url, body, {"x-acs-dingtalk-access-token": self.tenant.token})

    def all_entries(self):
        """Every dentry of the space (ListAllDentries, page by page)."""
        entries, token = [], None
        while True:
            body = self.list_all(max_results=50, next_token=token)
            entries += body.dentries or []
            token = body.next_token
            if not token:
                return entries


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
    """Every content object of the server on DATA_DIR: each file under
    DATA_DIR/blobs (content objects, parts, temporaries), and as
    `inline:<key>` each small object kept inline in its meta.sqlite."""
    root = os.path.join(str(data_dir), "blobs")
    files = [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]
    return sorted(files + [f"inline:{key}" for key in inline_objects(data_dir)])


def inline_objects(data_dir):
    """The objects kept in DATA_DIR/meta.sqlite, {key: size} (read on a
    connection of its own, as any reader of a WAL database may)."""
    import sqlite3
    path = os.path.join(str(data_dir), "meta.sqlite")
    if not os.path.exists(path):
        return {}
    conn = sqlite3.connect(path, timeout=30)
    try:
        return dict(conn.execute("SELECT object_key, length(bytes) FROM inline_objects"))
    finally:
        conn.close()


def blob_bytes(data_dir):
    """Bytes of every file under DATA_DIR/blobs."""
    on_disk = sum(os.path.getsize(f) for f in blob_files(data_dir) if os.path.exists(f))
    return on_disk + sum(inline_objects(data_dir).values())

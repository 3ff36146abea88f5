// orgdrive console: uploads with progress (drag and drop of files and
// folders, or the pickers) and a confirmation before a delete. Each file
// goes the API's way: an upload is opened (GetFileUploadInfo, or a multipart
// upload for a file larger than one part), its bytes are PUT to signed URLs,
// then it is committed (CommitFile). A PUT that fails on a dropped
// connection is retried with backoff once the browser is back online; a
// multipart upload's key and finished parts are kept in localStorage, so
// choosing the same file again after a reload sends only the missing parts.
"use strict";
(function () {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  const box = document.getElementById("upload");
  if (!box) return;
  const { space, parent, csrf } = box.dataset;
  const list = document.getElementById("upload-list");
  const overall = document.getElementById("overall-progress");
  const base = "/console/spaces/" + encodeURIComponent(space);
  const PARALLEL_PARTS = 3;
  const MAX_ATTEMPTS = 10;
  const trackers = new Set();
  let total = 0;

  /** An answer that trying again will not change (a 4xx with its code). */
  class Refused extends Error {}

  async function call(path, body) {
    const response = await fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual", // an ended session answers with the sign-in page
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    if (response.type === "opaqueredirect") throw new Refused("signed out: reload the page");
    const text = await response.text();
    let answer;
    try {
      answer = JSON.parse(text);
    } catch (_) {
      throw new Error("HTTP " + response.status + ": " + text.slice(0, 200));
    }
    if (response.ok) return answer;
    const message = answer.code + ": " + answer.message;
    throw response.status >= 500 || response.status === 429 ? new Error(message) : new Refused(message);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const online = () =>
    navigator.onLine ? Promise.resolve() : new Promise((r) => window.addEventListener("online", r, { once: true }));

  /** Runs `attempt` until it succeeds, is refused, or has failed MAX_ATTEMPTS times. */
  async function retrying(attempt, row) {
    for (let failures = 0; ; failures++) {
      try {
        const result = await attempt();
        row.label.textContent = box.dataset.uploading + " " + row.name;
        return result;
      } catch (error) {
        if (error instanceof Refused || failures + 1 >= MAX_ATTEMPTS) throw error;
        row.label.textContent = box.dataset.retrying + " " + row.name + " (" + error.message + ")";
        await online();
        await sleep(Math.min(30000, 500 * 2 ** failures));
      }
    }
  }

  /** Bytes sent for one file: finished PUTs plus those in flight. */
  function tracker(file, bar) {
    const t = { done: 0, flying: new Map(), next: 0 };
    t.sent = () => t.done + Array.from(t.flying.values()).reduce((a, b) => a + b, 0);
    t.update = () => {
      bar.value = (t.sent() * 100) / Math.max(file.size, 1);
      let sent = 0;
      for (const each of trackers) sent += each.sent();
      overall.value = (sent * 100) / Math.max(total, 1);
    };
    trackers.add(t);
    return t;
  }

  function put(url, headers, blob, t) {
    const id = ++t.next;
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PUT", url);
      for (const [name, value] of Object.entries(headers || {})) request.setRequestHeader(name, value);
      request.upload.onprogress = (event) => {
        t.flying.set(id, event.loaded);
        t.update();
      };
      request.onload = () => {
        t.flying.delete(id);
        if (request.status < 300) {
          t.done += blob.size;
          t.update();
          resolve();
          return;
        }
        t.update();
        const failed = "HTTP " + request.status + ": " + request.responseText.slice(0, 200);
        // 403: a signature that expired while offline; a new URL fixes it.
        const again = request.status >= 500 || [403, 408, 429].includes(request.status);
        reject(again ? new Error(failed) : new Refused(failed));
      };
      request.onerror = request.ontimeout = request.onabort = () => {
        t.flying.delete(id);
        t.update();
        reject(new Error("network error"));
      };
      request.send(blob);
    });
  }

  async function uploadWhole(file, parentId, t, row) {
    const ticket = await retrying(() => call("/uploads", { parentId, name: file.name, size: file.size }), row);
    await retrying(() => put(ticket.url, ticket.headers, file, t), row);
    return ticket.uploadKey;
  }

  /** A multipart upload, resumed from localStorage when this file was begun before. */
  async function uploadInParts(file, parentId, t, row, partSize) {
    const memoKey = "orgdrive-upload:" + [space, parentId, file.name, file.size, file.lastModified].join("/");
    const save = (memo) => localStorage.setItem(memoKey, JSON.stringify(memo));
    let memo = null;
    try {
      memo = JSON.parse(localStorage.getItem(memoKey));
    } catch (_) {
      memo = null;
    }
    if (memo && memo.partSize === partSize) {
      // Is the key still open (not expired, not committed)? Ask for a URL.
      try {
        await retrying(() => call("/parts", { uploadKey: memo.uploadKey, partNumbers: [1] }), row);
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
        memo = null;
      }
    } else {
      memo = null;
    }
    if (!memo) {
      const opened = await retrying(
        () => call("/uploads", { parentId, name: file.name, size: file.size, multipart: true }),
        row,
      );
      memo = { uploadKey: opened.uploadKey, partSize, done: [] };
      save(memo);
    }
    const count = Math.ceil(file.size / partSize);
    const done = new Set(memo.done);
    const pending = [];
    for (let n = 1; n <= count; n++) {
      if (done.has(n)) t.done += Math.min(partSize, file.size - (n - 1) * partSize);
      else pending.push(n);
    }
    t.update();
    async function worker() {
      while (pending.length) {
        const n = pending.shift();
        const blob = file.slice((n - 1) * partSize, Math.min(n * partSize, file.size));
        await retrying(async () => {
          const { urls } = await call("/parts", { uploadKey: memo.uploadKey, partNumbers: [n] });
          await put(urls[0].url, urls[0].headers, blob, t);
        }, row);
        done.add(n);
        memo.done = Array.from(done);
        save(memo);
      }
    }
    await Promise.all(Array.from({ length: PARALLEL_PARTS }, worker));
    return { uploadKey: memo.uploadKey, forget: () => localStorage.removeItem(memoKey) };
  }

  async function upload(file, parentId) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.className = "file-progress";
    label.textContent = box.dataset.uploading + " " + file.name;
    item.append(label, bar);
    list.append(item);
    const row = { label, name: file.name };
    const t = tracker(file, bar);
    try {
      const partSize = Number(box.dataset.partSize);
      let uploadKey;
      let forget = () => {};
      if (file.size > partSize) ({ uploadKey, forget } = await uploadInParts(file, parentId, t, row, partSize));
      else uploadKey = await uploadWhole(file, parentId, t, row);
      await retrying(() => call("/commit", { uploadKey, parentId, name: file.name, size: file.size }), row);
      forget();
      bar.value = 100;
      label.textContent = box.dataset.done + " " + file.name;
      item.dataset.state = "done";
    } catch (error) {
      label.textContent = box.dataset.failed + " " + file.name + ": " + error.message;
      label.className = "error";
      item.dataset.state = "failed";
    }
  }

  /** Folder ids by path below this page's folder, made (or found) once each. */
  const folders = new Map([["", Promise.resolve(parent)]]);
  function folderOf(dirs) {
    const path = dirs.join("/");
    if (!folders.has(path)) {
      const made = folderOf(dirs.slice(0, -1)).then(async (parentId) => {
        const answer = await call("/mkdir", { parentId, name: dirs[dirs.length - 1] });
        return answer.dentryId;
      });
      folders.set(path, made);
    }
    return folders.get(path);
  }

  /** Uploads jobs `{file?, dirs}`: a file into the folder `dirs`, or that folder alone. */
  async function uploadAll(jobs) {
    if (!jobs.length) return;
    document.getElementById("upload-overall").hidden = false;
    total += jobs.reduce((sum, job) => sum + (job.file ? job.file.size : 0), 0);
    for (const job of jobs) {
      let parentId;
      try {
        parentId = await folderOf(job.dirs);
      } catch (error) {
        const item = document.createElement("li");
        item.className = "error";
        item.dataset.state = "failed";
        item.textContent = box.dataset.failed + " " + job.dirs.join("/") + ": " + error.message;
        list.append(item);
        continue;
      }
      if (job.file) await upload(job.file, parentId);
    }
    if (!list.querySelector("[data-state=failed]")) window.location.reload();
  }

  async function walk(entry, dirs, jobs) {
    if (entry.isFile) {
      jobs.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), dirs });
      return;
    }
    const inside = dirs.concat([entry.name]);
    jobs.push({ dirs: inside });
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) return;
      for (const child of batch) await walk(child, inside, jobs);
    }
  }

  const asJobs = (files) =>
    Array.from(files, (file) => ({ file, dirs: (file.webkitRelativePath || "").split("/").slice(0, -1) }));

  document.getElementById("upload-input").addEventListener("change", (event) => uploadAll(asJobs(event.target.files)));
  document.getElementById("upload-folder-input").addEventListener("change", (event) => uploadAll(asJobs(event.target.files)));
  box.addEventListener("dragover", (event) => {
    event.preventDefault();
    box.classList.add("over");
  });
  box.addEventListener("dragleave", () => box.classList.remove("over"));
  box.addEventListener("drop", async (event) => {
    event.preventDefault();
    box.classList.remove("over");
    // Entries must be taken while the event lasts.
    const entries = Array.from(event.dataTransfer.items || [], (item) => item.webkitGetAsEntry && item.webkitGetAsEntry());
    if (!entries.length || entries.some((entry) => !entry)) {
      uploadAll(asJobs(event.dataTransfer.files));
      return;
    }
    const jobs = [];
    for (const entry of entries) await walk(entry, [], jobs);
    uploadAll(jobs);
  });
})();

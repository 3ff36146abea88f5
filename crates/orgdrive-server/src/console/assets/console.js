// orgdrive console: uploads with progress (drag and drop, or the file
// picker) and a confirmation before a delete. Each file goes the API's way:
// an upload is opened (GetFileUploadInfo), its bytes are PUT to the signed
// URL, then it is committed (CommitFile).
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
  let total = 0;
  let sent = 0;

  async function call(path, body) {
    const response = await fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual", // an ended session answers with the sign-in page
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    if (response.type === "opaqueredirect") throw new Error("signed out: reload the page");
    const text = await response.text();
    let answer;
    try {
      answer = JSON.parse(text);
    } catch (_) {
      throw new Error("HTTP " + response.status + ": " + text.slice(0, 200));
    }
    if (!response.ok) throw new Error(answer.code + ": " + answer.message);
    return answer;
  }

  function put(url, headers, file, progress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PUT", url);
      for (const [name, value] of Object.entries(headers || {})) request.setRequestHeader(name, value);
      let last = 0;
      request.upload.onprogress = (event) => {
        progress.value = (event.loaded * 100) / Math.max(file.size, 1);
        sent += event.loaded - last;
        last = event.loaded;
        overall.value = (sent * 100) / Math.max(total, 1);
      };
      request.onload = () => (request.status < 300 ? resolve() : reject(new Error("HTTP " + request.status)));
      request.onerror = () => reject(new Error("network error"));
      request.send(file);
    });
  }

  async function upload(file) {
    const row = document.createElement("li");
    const label = document.createElement("span");
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.className = "file-progress";
    label.textContent = box.dataset.uploading + " " + file.name;
    row.append(label, progress);
    list.append(row);
    try {
      const ticket = await call("/uploads", { parentId: parent, name: file.name, size: file.size });
      await put(ticket.url, ticket.headers, file, progress);
      await call("/commit", { uploadKey: ticket.uploadKey, parentId: parent, name: file.name, size: file.size });
      progress.value = 100;
      label.textContent = box.dataset.done + " " + file.name;
      row.dataset.state = "done";
    } catch (error) {
      label.textContent = box.dataset.failed + " " + file.name + ": " + error.message;
      label.className = "error";
      row.dataset.state = "failed";
    }
  }

  async function uploadAll(files) {
    if (!files.length) return;
    document.getElementById("upload-overall").hidden = false;
    total += Array.from(files).reduce((sum, file) => sum + file.size, 0);
    for (const file of files) await upload(file);
    if (!list.querySelector("[data-state=failed]")) window.location.reload();
  }

  document.getElementById("upload-input").addEventListener("change", (event) => uploadAll(event.target.files));
  box.addEventListener("dragover", (event) => {
    event.preventDefault();
    box.classList.add("over");
  });
  box.addEventListener("dragleave", () => box.classList.remove("over"));
  box.addEventListener("drop", (event) => {
    event.preventDefault();
    box.classList.remove("over");
    uploadAll(event.dataTransfer.files);
  });
})();

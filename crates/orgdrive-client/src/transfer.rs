//! Moving file bytes: uploads (one signed PUT, or a multipart upload whose
//! parts go up in parallel and whose progress is kept on disk so an
//! interrupted upload resumes), downloads to a temporary file renamed into
//! place, and space-to-space copies streamed from one server to the other.
//!
//! Memory: bytes move in part-sized buffers, and at most `parallel` parts
//! are in flight across all files (plus one being read per file), whatever
//! the files' sizes. A file is committed only after every one of its parts
//! arrived: an interrupted upload never becomes a partial file.
//!
//! Every uploaded file gets two of the calling app's PRIVATE properties:
//! `odcBlake3` (the content's BLAKE3, hex) and `odcMtime` (the source's
//! modification time, ms): `mirror` compares with them. BLAKE3, not SHA-256:
//! with SIMD it costs about a quarter of SHA-256's CPU per byte, which on a
//! busy machine decides a large upload's speed (bench/RESULTS.md, issue 14).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::{Api, Target};
use crate::error::{ClientError, Result};
use crate::model::{Dentry, HeaderSignatureInfo};
use crate::profile::{write_private, Flush};
use crate::remote::find_child;

pub const HASH_PROPERTY: &str = "odcBlake3";
/// The content hash older odc versions kept (SHA-256). A commit keeps the
/// properties it does not set, so where both are present one of them was
/// left by an earlier version of the file, and neither is trusted.
const OLD_HASH_PROPERTY: &str = "odcSha256";

/// A space file's content hash as odc recorded it, if it can be trusted to
/// describe the current content (see [`OLD_HASH_PROPERTY`]).
pub fn recorded_hash(dentry: &Dentry) -> Option<&str> {
    match dentry.own_property(OLD_HASH_PROPERTY) {
        Some(_) => None,
        None => dentry.own_property(HASH_PROPERTY),
    }
}
pub const MTIME_PROPERTY: &str = "odcMtime";
/// DingTalk's limit on the parts of one upload.
const MAX_PARTS: u64 = 10_000;

/// How transfers run, shared by every file of a command.
#[derive(Clone)]
pub struct Transfers {
    pub part_size: u64,
    pub parallel: usize,
    pub progress: Progress,
    slots: Arc<Semaphore>,
    uploads_dir: PathBuf,
}

/// Where an upload's bytes come from.
pub enum Source {
    File(PathBuf),
    /// Another server's signed download URL (space-to-space copies).
    Signed(Arc<Api>, HeaderSignatureInfo),
}

/// Reads a source in buffers of exactly the size asked for, hashing what
/// it reads. A local file is read and hashed on a blocking thread, one
/// buffer per trip, straight into the buffer sent.
struct Reader {
    from: ReadFrom,
    hasher: Option<blake3::Hasher>,
}

enum ReadFrom {
    /// `None` only while a read is on the blocking thread.
    File(Option<std::fs::File>),
    Stream(Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>, BytesMut),
}

impl Reader {
    async fn open(source: &Source) -> Result<Reader> {
        let from = match source {
            Source::File(path) => ReadFrom::File(Some(std::fs::File::open(path)?)),
            Source::Signed(api, info) => {
                let response = api.get_signed(info).await?;
                ReadFrom::Stream(Box::pin(response.bytes_stream()), BytesMut::new())
            }
        };
        Ok(Reader { from, hasher: Some(blake3::Hasher::new()) })
    }

    /// The next `n` bytes; fewer only at the end of the source.
    async fn take(&mut self, n: usize) -> Result<Bytes> {
        let lost = || ClientError::Io(std::io::Error::other("a read of the source was lost"));
        match &mut self.from {
            ReadFrom::File(slot) => {
                let file = slot.take().ok_or_else(lost)?;
                let mut hasher = self.hasher.take().ok_or_else(lost)?;
                let (file, hasher, read) = tokio::task::spawn_blocking(move || {
                    let mut buf = Vec::with_capacity(n);
                    let read = (&file).take(n as u64).read_to_end(&mut buf).map(|_| {
                        hasher.update(&buf);
                        buf
                    });
                    (file, hasher, read)
                })
                .await
                .map_err(|_| lost())?;
                *slot = Some(file);
                self.hasher = Some(hasher);
                Ok(Bytes::from(read?))
            }
            ReadFrom::Stream(stream, pending) => {
                while pending.len() < n {
                    match stream.next().await {
                        Some(chunk) => pending.extend_from_slice(&chunk?),
                        None => break,
                    }
                }
                let take = n.min(pending.len());
                let bytes = pending.split_to(take).freeze();
                if let Some(hasher) = &mut self.hasher {
                    hasher.update(&bytes);
                }
                Ok(bytes)
            }
        }
    }

    /// The content hash (hex BLAKE3) of everything read.
    fn content_hash(self) -> String {
        self.hasher.unwrap_or_default().finalize().to_hex().to_string()
    }
}

/// An interrupted multipart upload, kept to resume it.
#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UploadState {
    upload_key: String,
    part_size: u64,
    done: BTreeSet<u64>,
}

impl Transfers {
    pub fn new(part_size: u64, parallel: usize, progress: Progress, state_dir: &Path) -> Transfers {
        Transfers {
            part_size: part_size.max(1),
            parallel: parallel.max(1),
            progress,
            slots: Arc::new(Semaphore::new(parallel.max(1))),
            uploads_dir: state_dir.join("uploads"),
        }
    }

    /// The part size for `size` bytes: the configured one, grown when the
    /// file would need more than DingTalk's 10,000 parts.
    fn part_size_for(&self, size: u64) -> u64 {
        let least = size.div_ceil(MAX_PARTS);
        self.part_size.max(least.div_ceil(1 << 20) << 20)
    }

    /// Uploads `size` bytes from `source` and commits them as `target`.
    /// `resume_id` names a local file's upload so that an interrupted one
    /// resumes (none for streamed sources).
    pub async fn upload(
        &self,
        api: &Arc<Api>,
        source: Source,
        size: u64,
        mtime_ms: i64,
        target: Target<'_>,
        resume_id: Option<String>,
    ) -> Result<Dentry> {
        let bar = self.progress.file_bar(target.name, size);
        let mut reader = Reader::open(&source).await?;
        let upload_key = if size <= self.part_size {
            let bytes = reader.take(size as usize).await?;
            ensure_whole(&mut reader, bytes.len() as u64, size).await?;
            let info =
                api.upload_info(target.space_id, target.parent_id, target.name, size).await?;
            let _slot = self.slots.acquire().await.map_err(|_| ClientError::Interrupted)?;
            api.put_signed(&info.header_signature_info, bytes).await?;
            self.progress.advance(&bar, size);
            info.upload_key
        } else {
            self.upload_parts(api, &mut reader, size, &target, resume_id.as_deref(), &bar).await?
        };
        let hash = reader.content_hash();
        let mtime = mtime_ms.to_string();
        let props = [(HASH_PROPERTY, hash.as_str()), (MTIME_PROPERTY, mtime.as_str())];
        let committed = api.commit(&target, &upload_key, size, &props).await;
        if let Some(id) = resume_id {
            let _ = std::fs::remove_file(self.uploads_dir.join(format!("{id}.json")));
        }
        let dentry = match committed {
            // A resumed key that an interrupted run's commit consumed after
            // all: done, if what it committed is these bytes.
            Err(e) if e.code() == Some("paramError.uploadKey") => {
                match find_child(api, target.space_id, target.parent_id, target.name).await? {
                    Some(d) if recorded_hash(&d) == Some(hash.as_str()) => d,
                    _ => return Err(e),
                }
            }
            other => other?,
        };
        bar.finish_and_clear();
        Ok(dentry)
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_parts(
        &self,
        api: &Arc<Api>,
        reader: &mut Reader,
        size: u64,
        target: &Target<'_>,
        resume_id: Option<&str>,
        bar: &ProgressBar,
    ) -> Result<String> {
        let state_file = resume_id.map(|id| self.uploads_dir.join(format!("{id}.json")));
        let mut state = match &state_file {
            Some(file) => self.resumable(api, file).await,
            None => None,
        }
        .unwrap_or_default();
        if state.upload_key.is_empty() {
            state = UploadState {
                upload_key: api
                    .init_multipart(target.space_id, target.parent_id, target.name, size)
                    .await?,
                part_size: self.part_size_for(size),
                done: BTreeSet::new(),
            };
            save_state(state_file.as_deref(), &state)?;
        }
        let part_size = state.part_size;
        let parts = size.div_ceil(part_size);
        if !state.done.is_empty() {
            eprintln!(
                "odc: resuming {}: {} of {parts} parts were sent before",
                target.name,
                state.done.len()
            );
        }
        let mut urls = HashMap::new();
        let mut running: JoinSet<Result<(u64, u64)>> = JoinSet::new();
        for number in 1..=parts {
            let len = part_size.min(size - (number - 1) * part_size);
            let bytes = reader.take(len as usize).await?;
            if bytes.len() as u64 != len {
                return Err(ClientError::usage(format!(
                    "{} changed while it was read",
                    target.name
                )));
            }
            if state.done.contains(&number) {
                self.progress.advance(bar, len);
                continue;
            }
            if !urls.contains_key(&(number as i64)) {
                // Signed 30 at a time (the most one call signs), ahead of need.
                let next: Vec<i64> = (number..=parts)
                    .filter(|n| !state.done.contains(n))
                    .take(PART_URLS_PER_CALL)
                    .map(|n| n as i64)
                    .collect();
                for part in api.part_urls(&state.upload_key, &next).await? {
                    urls.insert(part.part_number, part.header_signature_info);
                }
            }
            let signed = urls.remove(&(number as i64));
            let slot =
                self.slots.clone().acquire_owned().await.map_err(|_| ClientError::Interrupted)?;
            let (api, key) = (api.clone(), state.upload_key.clone());
            running.spawn(async move {
                let _slot = slot;
                put_part(&api, &key, number as i64, signed, bytes).await?;
                Ok((number, len))
            });
            // Collect what finished, so the saved state stays current.
            while let Some(done) = running.try_join_next() {
                self.part_done(done, &mut state, state_file.as_deref(), bar)?;
            }
        }
        ensure_whole(reader, size, size).await?;
        while let Some(done) = running.join_next().await {
            self.part_done(done, &mut state, state_file.as_deref(), bar)?;
        }
        Ok(state.upload_key)
    }

    fn part_done(
        &self,
        joined: std::result::Result<Result<(u64, u64)>, tokio::task::JoinError>,
        state: &mut UploadState,
        file: Option<&Path>,
        bar: &ProgressBar,
    ) -> Result<()> {
        let (number, len) =
            joined.map_err(|e| ClientError::Network(format!("a part upload stopped: {e}")))??;
        state.done.insert(number);
        self.progress.advance(bar, len);
        save_state(file, state)
    }

    /// A saved upload whose key the server still knows, if any.
    async fn resumable(&self, api: &Api, file: &Path) -> Option<UploadState> {
        let state: UploadState = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
        if state.part_size == 0 {
            return None;
        }
        // An expired or committed key is refused here: start afresh.
        api.part_urls(&state.upload_key, &[1]).await.ok()?;
        Some(state)
    }

    /// Downloads a file (a version of it, if given) to `dest`, through a
    /// temporary file beside it, made durable before it is renamed into
    /// place; the file takes the source's modification time.
    pub async fn download(
        &self,
        api: &Api,
        dentry: &Dentry,
        version: Option<i64>,
        dest: &Path,
    ) -> Result<()> {
        let size = dentry.size.unwrap_or(0).max(0) as u64;
        let bar = self.progress.file_bar(&dentry.name, size);
        let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let file_name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("download");
        let partial =
            TempFile(dir.join(format!(".{file_name}.odc-{}.partial", std::process::id())));
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.download_once(api, dentry, version, &partial.0, size, &bar).await {
                Ok(()) => break,
                Err(e) if e.is_transient() && attempt < crate::api::ATTEMPTS => {
                    bar.set_position(0);
                    tokio::time::sleep(crate::api::backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let mtime = dentry
            .own_property(MTIME_PROPERTY)
            .and_then(|v| v.parse::<i64>().ok())
            .or_else(|| dentry.modified_ms());
        if let Some(ms) = mtime {
            let file = std::fs::File::options().write(true).open(&partial.0)?;
            file.set_modified(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
            )?;
        }
        std::fs::rename(&partial.0, dest)?;
        std::mem::forget(partial);
        bar.finish_and_clear();
        Ok(())
    }

    async fn download_once(
        &self,
        api: &Api,
        dentry: &Dentry,
        version: Option<i64>,
        partial: &Path,
        size: u64,
        bar: &ProgressBar,
    ) -> Result<()> {
        let info = api.download_info(&dentry.space_id, &dentry.id, version).await?;
        let response = api.get_signed(&info).await?;
        let out = std::fs::File::create(partial)?;
        // The disk writes run on a thread of their own, a few buffers
        // behind the network: receiving and writing overlap, memory stays
        // at WRITE_BUFFERS_QUEUED buffers.
        let (buffers, queued) = tokio::sync::mpsc::channel::<Vec<Bytes>>(WRITE_BUFFERS_QUEUED);
        let writer = tokio::task::spawn_blocking(move || write_all_then_sync(out, queued));
        let mut stream = response.bytes_stream();
        let mut written = 0u64;
        // The network's own buffers, handed over as they came (no copy).
        let (mut buffer, mut buffered) = (Vec::new(), 0);
        let received: Result<()> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                written += chunk.len() as u64;
                if version.is_none() && written > size {
                    // Not the file the listing described: stop, do not retry.
                    return Err(ClientError::Corrupt(format!(
                        "{}: the download holds more than its {size} bytes",
                        dentry.name
                    )));
                }
                self.progress.advance(bar, chunk.len() as u64);
                buffered += chunk.len();
                buffer.push(chunk);
                if buffered >= WRITE_BUFFER {
                    buffered = 0;
                    if buffers.send(std::mem::take(&mut buffer)).await.is_err() {
                        break; // the writer failed: its error is below
                    }
                }
            }
            if !buffer.is_empty() {
                let _ = buffers.send(buffer).await;
            }
            Ok(())
        }
        .await;
        drop(buffers);
        let wrote = writer.await.map_err(|e| ClientError::Io(std::io::Error::other(e)))?;
        received?;
        wrote?;
        if version.is_none() && written != size {
            return Err(ClientError::Network(format!(
                "{}: the download ended after {written} of {size} bytes",
                dentry.name
            )));
        }
        Ok(())
    }
}

/// Bytes gathered before one write to a downloaded file.
const WRITE_BUFFER: usize = 2 << 20;
/// Buffers waiting for the disk at most.
const WRITE_BUFFERS_QUEUED: usize = 4;
/// Bytes per `write` to a downloaded file: curl's size. The kernel sizes the
/// page-cache folios it allocates by the write, and large ones were slow to
/// get on the benchmark's VM: with whole network buffers per write, a 1 GiB
/// get took 2.2–2.5 s (and as much CPU, 70 % of it copying into the page
/// cache) against curl's 0.9–1.4 s (bench/RESULTS.md, issue 14).
const WRITE_PIECE: usize = 16 << 10;

/// Writes every buffer the channel brings, then makes the file durable.
/// The disk's writes start behind each buffer ([`start_writeback`]), so the
/// closing fsync waits for the last few buffers only, not the whole file.
fn write_all_then_sync(
    mut out: std::fs::File,
    mut queued: tokio::sync::mpsc::Receiver<Vec<Bytes>>,
) -> std::io::Result<()> {
    let mut offset = 0u64;
    while let Some(chunks) = queued.blocking_recv() {
        let mut len = 0u64;
        for chunk in chunks {
            for piece in chunk.chunks(WRITE_PIECE) {
                out.write_all(piece)?;
            }
            len += chunk.len() as u64;
        }
        start_writeback(&out, offset, len);
        offset += len;
    }
    out.sync_all()
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to
/// the disk now, without waiting for them (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`). A hint only: durability comes from the fsync
/// that follows, so a failure here is ignored. 1 GiB downloads: 1.41 s →
/// 1.04 s (median of 6, bench/RESULTS.md, issue 14).
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else { return };
    // SAFETY: `file` owns its descriptor for the whole call, and the call
    // reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &std::fs::File, _: u64, _: u64) {}

/// Refuses a source that holds more bytes than announced (a file that grew).
async fn ensure_whole(reader: &mut Reader, got: u64, size: u64) -> Result<()> {
    if got != size || !reader.take(1).await?.is_empty() {
        return Err(ClientError::usage("the source changed while it was read (size differs)"));
    }
    Ok(())
}

/// Part URLs signed by one GetMultipartFileUploadInfos call at most.
const PART_URLS_PER_CALL: usize = 30;

/// PUTs one part on its signed URL, asking for a fresh one if there is none
/// or it was refused (it may have expired while the part waited its turn).
async fn put_part(
    api: &Api,
    key: &str,
    number: i64,
    mut signed: Option<HeaderSignatureInfo>,
    bytes: Bytes,
) -> Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        let info = match signed.take() {
            Some(info) => info,
            None => {
                api.part_urls(key, &[number])
                    .await?
                    .into_iter()
                    .find(|p| p.part_number == number)
                    .ok_or_else(|| ClientError::Network(format!("no URL for part {number}")))?
                    .header_signature_info
            }
        };
        match api.put_signed(&info, bytes.clone()).await {
            Err(ClientError::Api { status: 403, .. }) if tries < 2 => continue,
            other => return other,
        }
    }
}

fn save_state(file: Option<&Path>, state: &UploadState) -> Result<()> {
    match file {
        Some(file) => write_private(file, &serde_json::to_vec(state)?, Flush::Cached),
        None => Ok(()),
    }
}

/// A temporary file removed unless it was renamed into place.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The resume id of a local file's upload: the same file (path, size,
/// modification time) to the same place as the same profile.
pub fn resume_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Progress bars on stderr: one per running file and one overall; drawn
/// only on a terminal (and never with `--quiet`).
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let target =
            if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "total {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress { multi, total }
    }

    /// Adds `bytes` to the overall total (what the command will move).
    pub fn plan(&self, bytes: u64) {
        self.total.inc_length(bytes);
    }

    fn file_bar(&self, name: &str, size: u64) -> ProgressBar {
        let bar = self.multi.insert_before(&self.total, ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:30!} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(name.to_string());
        bar
    }

    fn advance(&self, bar: &ProgressBar, bytes: u64) {
        bar.inc(bytes);
        self.total.inc(bytes);
    }

    /// A line printed above the bars (or plainly, without a terminal).
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            println!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    pub fn finish(&self) {
        self.total.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_past_ten_thousand_parts() {
        let t = Transfers::new(8 << 20, 4, Progress::new(true), Path::new("/nonexistent"));
        assert_eq!(t.part_size_for(1 << 30), 8 << 20);
        let huge = 200u64 << 30; // 200 GiB: 25,600 parts of 8 MiB
        let part = t.part_size_for(huge);
        assert!(huge.div_ceil(part) <= MAX_PARTS, "{part}");
        assert_eq!(part % (1 << 20), 0);
    }

    #[test]
    fn a_hash_is_trusted_only_without_the_old_one_beside_it() {
        let dentry = |props: serde_json::Value| -> Dentry {
            serde_json::from_value(serde_json::json!({ "appProperties": { "app": props } }))
                .unwrap()
        };
        let prop = |name: &str, value: &str| serde_json::json!({ "name": name, "value": value, "visibility": "PRIVATE" });
        let new = dentry(serde_json::json!([prop(HASH_PROPERTY, "b3")]));
        assert_eq!(recorded_hash(&new), Some("b3"));
        // An older odc overwrote the file, or wrote the one this replaced:
        // one of the two hashes describes other bytes.
        let mixed = dentry(serde_json::json!([prop(HASH_PROPERTY, "b3"), prop("odcSha256", "s")]));
        assert_eq!(recorded_hash(&mixed), None);
        let old = dentry(serde_json::json!([prop("odcSha256", "s")]));
        assert_eq!(recorded_hash(&old), None);
    }

    #[tokio::test]
    async fn a_reader_gives_exact_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 10]).unwrap();
        let mut r = Reader::open(&Source::File(path)).await.unwrap();
        assert_eq!(r.take(4).await.unwrap().len(), 4);
        assert_eq!(r.take(4).await.unwrap().len(), 4);
        assert_eq!(r.take(4).await.unwrap().len(), 2);
        assert!(ensure_whole(&mut r, 10, 10).await.is_ok());
        assert!(ensure_whole(&mut r, 9, 10).await.is_err());
        // The BLAKE3 of ten bytes 7 (Python's blake3 package), pinned: the property's meaning.
        assert_eq!(
            r.content_hash(),
            "fd38ee34bca0c6059e3b3a22e92ad9979847af3ee9145f592343644b34910d58"
        );
    }
}

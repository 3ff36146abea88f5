//! GetDentryThumbnails, and the thumbnails behind it.
//!
//! A thumbnail is made in the background after an image file is committed
//! (and on first demand for content committed before, or while a server was
//! down): the content object is read (at most [`MAX_SOURCE_BYTES`]), decoded
//! under memory and size limits (a decompression bomb fails, it does not
//! exhaust the server), scaled to fit [`THUMBNAIL_EDGE`] pixels keeping its
//! aspect, and written as a PNG object `thumbs/<random>`. Its record belongs
//! to the content object, so copies and versions sharing content share it,
//! it counts against no quota, and it leaves with the content object.
//! Content it cannot read is recorded as failed, once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::io::Cursor;
use std::sync::Mutex;

use futures::TryStreamExt;
use image::{ImageFormat, ImageReader, Limits};
use orgdrive_store::{DentryRecord, ThumbnailRecord};

use crate::dentries::MAX_BATCH_IDS;
use crate::error::{unknown_dentry, NoThumbnail};
use crate::ids::random_alnum;
use crate::policy::{Operation, Place};
use crate::tools::{self, Scratch};
use crate::transfer::SignedUrl;
use crate::validate::check_ids;
use crate::{names, now_ms, Drive, DriveError, DriveResult, Operator};

/// The longest edge of a thumbnail, in pixels.
pub const THUMBNAIL_EDGE: u32 = 256;
/// Largest content object a thumbnail is made from.
pub const MAX_SOURCE_BYTES: u64 = 64 << 20;
/// Largest image (either edge, in pixels) a thumbnail is made from.
const MAX_SOURCE_EDGE: u32 = 16_384;
/// Largest image (pixels) a thumbnail is made from: checked from the header,
/// before decoding, because a decoder's working memory (a progressive
/// JPEG's coefficients: up to ~11 bytes a pixel) and time grow with it.
const MAX_SOURCE_PIXELS: u64 = 40_000_000;
/// Most memory one decode's image may take.
const MAX_DECODE_BYTES: u64 = 512 << 20;

/// One requested id of GetDentryThumbnails.
#[derive(Debug)]
pub struct ThumbnailResult {
    pub dentry_id: String,
    pub result: Result<Thumbnail, DriveError>,
}

/// A thumbnail ready to fetch.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub url: SignedUrl,
}

/// Most thumbnails one space may have waiting on a node; more are made on
/// first request instead.
const MAX_WAITING_PER_SPACE: usize = 256;

/// Thumbnails waiting on this node, taken one at a time (decoding is CPU
/// work) and fairly: a space's turn comes round after every other waiting
/// space's, so one space's burst does not hold up the others. Each content
/// object waits once.
#[derive(Default)]
pub(crate) struct Thumbnailer {
    queue: Mutex<FairQueue>,
}

impl Thumbnailer {
    pub fn new() -> Thumbnailer {
        Thumbnailer::default()
    }
}

/// Content objects waiting per space, served round robin.
#[derive(Default)]
struct FairQueue {
    by_space: HashMap<String, VecDeque<String>>,
    /// Spaces with work, in turn order.
    turns: VecDeque<String>,
    /// Every content object waiting or being made.
    pending: HashSet<String>,
    /// Whether a worker is taking work.
    working: bool,
}

impl FairQueue {
    /// Queues the object; false if it was already pending or its space is full.
    fn push(&mut self, space_id: &str, blob_key: &str) -> bool {
        let waiting = self.by_space.entry(space_id.to_string()).or_default();
        if waiting.len() >= MAX_WAITING_PER_SPACE || self.pending.contains(blob_key) {
            return false;
        }
        if waiting.is_empty() {
            self.turns.push_back(space_id.to_string());
        }
        waiting.push_back(blob_key.to_string());
        self.pending.insert(blob_key.to_string());
        true
    }

    /// The next object: the first of the space whose turn it is.
    fn next(&mut self) -> Option<String> {
        let space = self.turns.pop_front()?;
        let waiting = self.by_space.get_mut(&space)?;
        let next = waiting.pop_front();
        if waiting.is_empty() {
            self.by_space.remove(&space);
        } else {
            self.turns.push_back(space);
        }
        next
    }
}

/// What a thumbnail is made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Image,
    /// The first page, rendered by poppler's `pdftoppm`.
    Pdf,
    /// The first frame, taken by `ffmpeg`.
    Video,
}

/// What a file of this name gets its thumbnail from, if anything: images
/// always; PDFs and videos when the converter is installed.
fn thumbnail_source(name: &str) -> Option<Source> {
    let source = source_of(name)?;
    let tool = match source {
        Source::Image => return Some(source),
        Source::Pdf => "pdftoppm",
        Source::Video => "ffmpeg",
    };
    tools::available(tool).then_some(source)
}

fn source_of(name: &str) -> Option<Source> {
    let (_, ext) = names::split_extension(name);
    match ext.map(str::to_ascii_lowercase).as_deref() {
        Some("png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp") => Some(Source::Image),
        Some("pdf") => Some(Source::Pdf),
        Some("mp4" | "m4v" | "mov" | "webm" | "mkv" | "avi" | "ogv") => Some(Source::Video),
        _ => None,
    }
}

/// Whether a file of this name gets a thumbnail.
pub fn has_thumbnail(name: &str) -> bool {
    thumbnail_source(name).is_some()
}

/// The demuxers `ffmpeg` may use on a video (no playlists, no concat lists,
/// nothing that opens other files or URLs).
const VIDEO_FORMATS: &str = "mov,mp4,m4a,3gp,matroska,webm,avi,ogg";

impl Drive {
    /// GetDentryThumbnails: one result per requested id, in request order.
    pub async fn get_dentry_thumbnails(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        base_url: &str,
    ) -> DriveResult<Vec<ThumbnailResult>> {
        check_ids("dentryIds", dentry_ids, MAX_BATCH_IDS)?;
        let space = self.space_for(op, space_id).await?;
        let found = self.meta.get_dentries(&space.space_id, dentry_ids).await?;
        let live = |id: &str| found.iter().find(|d| d.dentry_id == id && d.status == "NORMAL");
        let keys: Vec<String> = found.iter().filter_map(|d| d.blob_key.clone()).collect();
        let made = self.meta.get_thumbnails(&keys).await?;
        let mut results = Vec::with_capacity(dentry_ids.len());
        for id in dentry_ids {
            let result = match live(id) {
                None => Err(unknown_dentry("dentryId", id)),
                Some(file) => {
                    match self.authorize(op, &space, Place::Dentry(file), Operation::Preview).await
                    {
                        Err(e) => Err(e),
                        Ok(_) => Ok(self.thumbnail_of(file, &made, base_url)),
                    }
                }
            };
            let result = match result {
                Ok(Ok(thumbnail)) => Ok(thumbnail),
                Ok(Err(none)) => Err(DriveError::NoThumbnail(none)),
                Err(e) => Err(e),
            };
            results.push(ThumbnailResult { dentry_id: id.clone(), result });
        }
        Ok(results)
    }

    /// The file's thumbnail, or why there is none (starting to make it when
    /// it was never made).
    fn thumbnail_of(
        &self,
        file: &DentryRecord,
        made: &[ThumbnailRecord],
        base_url: &str,
    ) -> Result<Thumbnail, NoThumbnail> {
        let Some(blob_key) = file.blob_key.as_deref().filter(|_| has_thumbnail(&file.name)) else {
            return Err(NoThumbnail::Unsupported);
        };
        match made.iter().find(|t| t.blob_key == blob_key) {
            Some(t) => match (&t.object_key, t.status.as_str()) {
                (Some(object), "READY") => Ok(Thumbnail {
                    width: t.width,
                    height: t.height,
                    url: self.signed_object_url(base_url, object, "thumbnail.png", t.size as u64),
                }),
                _ => Err(NoThumbnail::Failed),
            },
            None => {
                self.make_thumbnail(&file.space_id, blob_key);
                Err(NoThumbnail::NotReady)
            }
        }
    }

    /// After a commit: makes the file's thumbnail in the background, if its
    /// type gets one.
    pub(crate) fn thumbnail_later(&self, file: &DentryRecord) {
        if let Some(blob_key) = file.blob_key.as_deref().filter(|_| has_thumbnail(&file.name)) {
            self.make_thumbnail(&file.space_id, blob_key);
        }
    }

    /// Queues the content object's thumbnail; a worker (one per node, while
    /// there is work) makes the queued ones in fair turns.
    fn make_thumbnail(&self, space_id: &str, blob_key: &str) {
        let start = {
            let mut queue = self.thumbnails.queue.lock().expect("not poisoned");
            let queued = queue.push(space_id, blob_key);
            let start = queued && !queue.working;
            queue.working |= start;
            start
        };
        if !start {
            return;
        }
        let drive = self.clone();
        tokio::spawn(async move {
            loop {
                let next = {
                    let mut queue = drive.thumbnails.queue.lock().expect("not poisoned");
                    let next = queue.next();
                    queue.working = next.is_some();
                    next
                };
                let Some(blob_key) = next else { return };
                if let Err(e) = drive.store_thumbnail(&blob_key).await {
                    tracing::warn!(%blob_key, error = %e, "thumbnail not made");
                }
                drive.thumbnails.queue.lock().expect("not poisoned").pending.remove(&blob_key);
            }
        });
    }

    async fn store_thumbnail(&self, blob_key: &str) -> DriveResult<()> {
        let internal = |e: &dyn std::fmt::Display| DriveError::Internal(e.to_string());
        let size = self.object_size(blob_key).await?;
        let Some(size) = size else { return Ok(()) };
        let made = if size > MAX_SOURCE_BYTES || size == 0 {
            None
        } else {
            // What it is, from its first bytes (the name only chose to try).
            let mut head = Vec::new();
            let mut stream = self.object_stream(blob_key, 0..size.min(64)).await?;
            while let Some(chunk) = stream.try_next().await.map_err(|e| internal(&e))? {
                head.extend_from_slice(&chunk);
            }
            let source = if head.starts_with(b"%PDF-") {
                Source::Pdf
            } else if image::guess_format(&head).is_ok() {
                Source::Image
            } else {
                Source::Video
            };
            match source {
                Source::Image => {
                    let stream = self.object_stream(blob_key, 0..size).await?;
                    let bytes: Vec<u8> = stream
                        .try_fold(Vec::with_capacity(size as usize), |mut all, chunk| async move {
                            all.extend_from_slice(&chunk);
                            Ok(all)
                        })
                        .await
                        .map_err(|e| internal(&e))?;
                    tokio::task::spawn_blocking(move || scale(&bytes))
                        .await
                        .map_err(|e| internal(&e))?
                }
                Source::Pdf | Source::Video => {
                    match self.convert_first_image(blob_key, size, source).await? {
                        Some(png) => tokio::task::spawn_blocking(move || scale(&png))
                            .await
                            .map_err(|e| internal(&e))?,
                        None => None,
                    }
                }
            }
        };
        let mut record = ThumbnailRecord {
            blob_key: blob_key.to_string(),
            status: "FAILED".into(),
            object_key: None,
            width: 0,
            height: 0,
            size: 0,
            created_at: now_ms(),
        };
        if let Some((png, width, height)) = made {
            let object = format!("thumbs/{}", random_alnum(32));
            let len = png.len() as u64;
            let source =
                futures::stream::once(
                    async move { Ok::<_, std::io::Error>(bytes::Bytes::from(png)) },
                );
            self.blob
                .write_stream(&object, source, Some(len), false)
                .await
                .map_err(|e| DriveError::Internal(format!("{e:?}")))?;
            record = ThumbnailRecord {
                status: "READY".into(),
                object_key: Some(object),
                width,
                height,
                size: len as i64,
                ..record
            };
        }
        let kept = self.meta.put_thumbnail(&record).await?;
        if !kept {
            // The content went meanwhile (or another node was first).
            if let Some(object) = &record.object_key {
                self.remove_object(object).await;
            }
        }
        Ok(())
    }
}

impl Drive {
    /// The first page of a PDF, or a frame of a video, as an image file's
    /// bytes (at most [`THUMBNAIL_EDGE`] pixels on the longer edge), made by
    /// the converter in a scratch directory; `None` when the converter is
    /// missing or cannot read the content.
    async fn convert_first_image(
        &self,
        blob_key: &str,
        size: u64,
        source: Source,
    ) -> DriveResult<Option<Vec<u8>>> {
        let tool = if source == Source::Pdf { "pdftoppm" } else { "ffmpeg" };
        if !tools::available(tool) {
            return Ok(None);
        }
        // Background work: waits for its turn as long as it takes, holding
        // no copy meanwhile.
        let Some(turn) = tools::turn(None).await else { return Ok(None) };
        let scratch = Scratch::new().map_err(|e| DriveError::Internal(e.to_string()))?;
        let input = scratch.path("in");
        self.copy_object_to(blob_key, size, &input).await?;
        let edge = THUMBNAIL_EDGE.to_string();
        let (args, output): (Vec<OsString>, _) = match source {
            Source::Pdf => {
                let prefix = scratch.path("out");
                let args = vec![
                    "-q".into(),
                    "-f".into(),
                    "1".into(),
                    "-l".into(),
                    "1".into(),
                    "-scale-to".into(),
                    edge.into(),
                    "-png".into(),
                    "-singlefile".into(),
                    input.into(),
                    prefix.clone().into(),
                ];
                (args, prefix.with_extension("png"))
            }
            _ => {
                let output = scratch.path("out.png");
                let fit = format!("scale={edge}:{edge}:force_original_aspect_ratio=decrease");
                let args = vec![
                    "-nostdin".into(),
                    "-v".into(),
                    "error".into(),
                    "-protocol_whitelist".into(),
                    "file".into(),
                    "-format_whitelist".into(),
                    VIDEO_FORMATS.into(),
                    "-i".into(),
                    input.into(),
                    "-an".into(),
                    "-sn".into(),
                    "-dn".into(),
                    "-frames:v".into(),
                    "1".into(),
                    "-vf".into(),
                    fit.into(),
                    "-f".into(),
                    "image2".into(),
                    "-c:v".into(),
                    "png".into(),
                    output.clone().into(),
                ];
                (args, output)
            }
        };
        if let Err(e) = tools::run(&turn, tool, args).await {
            tracing::debug!(%blob_key, error = %e, "no thumbnail from the converter");
            return Ok(None);
        }
        Ok(tools::read_output(&output).await)
    }
}

/// The PNG thumbnail of an image and its size, or `None` when the bytes are
/// not an image it can read within the limits.
fn scale(bytes: &[u8]) -> Option<(Vec<u8>, u32, u32)> {
    let header = ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?;
    let (width, height) = header.into_dimensions().ok()?;
    if u64::from(width) * u64::from(height) > MAX_SOURCE_PIXELS {
        return None;
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_EDGE);
    limits.max_image_height = Some(MAX_SOURCE_EDGE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().ok()?;
    // Scaled down to fit, never up.
    let small = if image.width() <= THUMBNAIL_EDGE && image.height() <= THUMBNAIL_EDGE {
        image
    } else {
        image.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE)
    };
    let mut png = Vec::new();
    small.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).ok()?;
    Some((png, small.width(), small.height()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn images_scale_to_fit_keeping_their_aspect() {
        let (thumb, w, h) = scale(&png(600, 300)).unwrap();
        assert_eq!((w, h), (256, 128));
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
        let (_, w, h) = scale(&png(40, 90)).unwrap();
        assert_eq!((w, h), (40, 90), "never enlarged");
    }

    #[test]
    fn what_is_not_an_image_within_limits_fails() {
        assert!(scale(b"not an image").is_none());
        assert!(scale(&[]).is_none());
        // A PNG header claiming 60000 x 60000 pixels: refused by the limits,
        // not decoded into 14 GB.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        assert!(scale(&bomb).is_none());
        // Within the edge limit but past the pixel budget: refused from the
        // header, before any decoding.
        let mut big = png(1, 1);
        big[16..20].copy_from_slice(&8_000u32.to_be_bytes());
        big[20..24].copy_from_slice(&6_000u32.to_be_bytes());
        assert!(scale(&big).is_none());
    }

    #[test]
    fn spaces_take_turns_and_each_object_waits_once() {
        let mut queue = FairQueue::default();
        for key in ["a1", "a2", "a3"] {
            assert!(queue.push("a", key));
        }
        assert!(queue.push("b", "b1"));
        assert!(!queue.push("a", "a2"), "already waiting");
        assert!(queue.push("c", "c1"));
        let order: Vec<String> = std::iter::from_fn(|| queue.next()).collect();
        assert_eq!(order, ["a1", "b1", "c1", "a2", "a3"]);
        // Being made (still pending): not queued again; once done, it may be.
        assert!(!queue.push("a", "a1"));
        queue.pending.remove("a1");
        assert!(queue.push("a", "a1"));
        // A space's waiting work is bounded.
        let mut full = FairQueue::default();
        for i in 0..MAX_WAITING_PER_SPACE {
            assert!(full.push("s", &format!("k{i}")));
        }
        assert!(!full.push("s", "one more"));
        assert!(full.push("t", "other space"));
    }

    #[test]
    fn which_names_get_thumbnails() {
        for name in ["a.png", "b.JPG", "c.jpeg", "d.gif", "e.webp", "f.bmp"] {
            assert!(has_thumbnail(name), "{name}");
        }
        for name in ["a.txt", "png", "a.svg", "a.heic", "a.png.txt"] {
            assert!(!has_thumbnail(name), "{name}");
        }
        // PDFs and videos: when their converter is installed.
        assert_eq!(has_thumbnail("a.pdf"), tools::available("pdftoppm"));
        assert_eq!(has_thumbnail("a.MP4"), tools::available("ffmpeg"));
        assert_eq!(source_of("a.pdf"), Some(Source::Pdf));
        assert_eq!(source_of("a.webm"), Some(Source::Video));
    }
}

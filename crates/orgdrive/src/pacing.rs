//! A backup's copy threads yield to a busy machine. While other processes
//! use more than [`BUSY_SHARE`] of the machine's CPU time (the live server
//! under load, most of all), each copy thread sleeps [`PACE_RATIO`] times as
//! long as its last copy took, and at least [`MIN_PAUSE`]: the backup slows
//! down instead of raising the server's tail latency. What counts is how
//! often a copy thread runs more than how long (every run is a wake-up on a
//! CPU a server thread wants, and syscalls the server thread waits out), so
//! a small file's copy, tens of microseconds, is still followed by the
//! whole minimum pause. On an idle machine it copies at full speed.
//!
//! `SCHED_IDLE` alone does not do this: a copy thread at that priority
//! still runs for a slice whenever the scheduler gives it one, and every
//! slice, and the kernel work its syscalls do, delays the server threads
//! waiting for that CPU (bench/RESULTS.md, "Issue 12").
//!
//! The share is sampled from `/proc/stat` (all CPUs) minus this process's
//! own time (`/proc/self/stat`), at most every [`WINDOW`], by whichever copy
//! thread finds the last sample old. Kernel threads working for the backup
//! (writeback of what it wrote) count as other processes: on a small
//! machine a large copy may pace itself a little with nothing else running,
//! which costs speed only. Elsewhere than Linux nothing is paced.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Other processes' share of the machine's CPU time above which copies
/// are paced.
const BUSY_SHARE: f64 = 0.5;
/// A paced copy thread sleeps this many times as long as its copy took.
const PACE_RATIO: u32 = 8;
const MIN_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(100);
/// How often the share is sampled.
const WINDOW: Duration = Duration::from_millis(100);

/// CPU time counters at one moment, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ticks {
    /// All CPUs' time, busy or idle.
    total: u64,
    /// All CPUs' busy time.
    busy: u64,
    /// This process's time (every thread).
    own: u64,
}

struct Sampled {
    at: Instant,
    ticks: Ticks,
}

static LAST: Mutex<Option<Sampled>> = Mutex::new(None);
static BUSY: AtomicBool = AtomicBool::new(false);

/// Run by a copy thread after each object, with the time its copy took:
/// sleeps while the machine is busy with other work (see the module doc).
pub fn pace_copy(took: Duration) {
    refresh();
    if BUSY.load(Ordering::Relaxed) {
        std::thread::sleep(pause_after(took));
    }
}

fn pause_after(took: Duration) -> Duration {
    took.saturating_mul(PACE_RATIO).clamp(MIN_PAUSE, MAX_PAUSE)
}

/// Samples the counters if the last sample is older than [`WINDOW`] (one
/// thread at a time; the others go on with the last answer).
fn refresh() {
    let Ok(mut last) = LAST.try_lock() else { return };
    let now = Instant::now();
    if last.as_ref().is_some_and(|s| now.duration_since(s.at) < WINDOW) {
        return;
    }
    let Some(ticks) = read_ticks() else { return };
    if let Some(before) = last.as_ref() {
        BUSY.store(others_share(before.ticks, ticks) > BUSY_SHARE, Ordering::Relaxed);
    }
    *last = Some(Sampled { at: now, ticks });
}

/// The share of all CPU time between two samples that other processes used.
fn others_share(before: Ticks, after: Ticks) -> f64 {
    let total = after.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    let busy = after.busy.saturating_sub(before.busy);
    let own = after.own.saturating_sub(before.own);
    busy.saturating_sub(own) as f64 / total as f64
}

#[cfg(target_os = "linux")]
fn read_ticks() -> Option<Ticks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_ticks(&stat, &own)
}

#[cfg(not(target_os = "linux"))]
fn read_ticks() -> Option<Ticks> {
    None
}

/// From `/proc/stat`'s first line (`cpu user nice system idle iowait irq
/// softirq steal …`; guest time is already in user) and
/// `/proc/self/stat` (utime and stime, the 14th and 15th fields; the
/// command name in parentheses may hold spaces).
fn parse_ticks(stat: &str, own: &str) -> Option<Ticks> {
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = cpu[..] else { return None };
    let total = user + nice + system + idle + iowait + irq + softirq + steal;
    let fields: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Ticks { total, busy: total - idle - iowait, own: utime + stime })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "4242 (orgdrive (copy)) S 1 4242 4242 0 -1 4194560 500 0 0 0 30 12 0 0 \
                       30 10 6 0 123 0 0";

    #[test]
    fn the_counters_are_read_from_proc() {
        let stat = "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n";
        let ticks = parse_ticks(stat, OWN).unwrap();
        assert_eq!(ticks, Ticks { total: 981, busy: 161, own: 42 });
        assert_eq!(parse_ticks("intr 1 2 3\n", OWN), None);
        assert_eq!(parse_ticks(stat, "4242 (x) S 1 2"), None);
    }

    #[test]
    fn only_other_processes_time_counts_as_busy() {
        let before = Ticks { total: 1000, busy: 100, own: 10 };
        // 200 ticks pass: 150 busy, 100 of them ours.
        let after = Ticks { total: 1200, busy: 250, own: 110 };
        assert_eq!(others_share(before, after), 0.25);
        // The server and its clients fill the machine; the backup is idle.
        let after = Ticks { total: 1200, busy: 290, own: 10 };
        assert!(others_share(before, after) > BUSY_SHARE);
        assert_eq!(others_share(before, before), 0.0);
    }

    #[test]
    fn a_paced_thread_sleeps_in_proportion_to_its_copy() {
        assert_eq!(pause_after(Duration::from_micros(500)), Duration::from_millis(4));
        assert_eq!(pause_after(Duration::ZERO), MIN_PAUSE);
        assert_eq!(pause_after(Duration::from_secs(3)), MAX_PAUSE);
    }
}

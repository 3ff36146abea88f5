//! The queue that combines concurrent writes of a node into batches: a few
//! worker tasks each take everything queued (up to a maximum) and hand it
//! to the batch's writer, and count what its transaction committed. A lone
//! write is not delayed: a worker takes the queue as it is, never waits
//! for it to fill. The workers end when the last clone of the queue is
//! dropped (or with their tokio runtime; a caller then finds the queue
//! closed and writes alone).

use std::future::Future;
use std::sync::Arc;

use orgdrive_store::{WriteFigures, WriteTally};
use tokio::sync::{mpsc, Mutex};

/// A queue of jobs `J` and its workers.
pub(crate) struct Combiner<J> {
    jobs: mpsc::Sender<J>,
    /// The batches whose transaction committed and the jobs it decided.
    tally: Arc<WriteTally>,
}

impl<J> Clone for Combiner<J> {
    fn clone(&self) -> Self {
        Combiner { jobs: self.jobs.clone(), tally: Arc::clone(&self.tally) }
    }
}

impl<J: Send + 'static> Combiner<J> {
    /// Starts `workers` tasks on the current tokio runtime, each running
    /// `write` on batches of at most `max_batch` jobs (in queue order); at
    /// most `4 × max_batch` jobs wait, then callers wait to enqueue.
    /// `write` records in the tally it is given how many jobs its
    /// transaction's commit decided, before it answers them (so that a
    /// caller answered reads figures that count its write).
    pub(crate) fn start<W, F>(workers: usize, max_batch: usize, write: W) -> Combiner<J>
    where
        W: Fn(Vec<J>, Arc<WriteTally>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send,
    {
        let (jobs, receiver) = mpsc::channel(4 * max_batch);
        let receiver = Arc::new(Mutex::new(receiver));
        let write = Arc::new(write);
        let tally = Arc::new(WriteTally::default());
        for _ in 0..workers {
            let (receiver, write, counts) = (receiver.clone(), write.clone(), tally.clone());
            tokio::spawn(async move {
                while let Some(batch) = take(&receiver, max_batch).await {
                    write(batch, counts.clone()).await;
                }
            });
        }
        Combiner { jobs, tally }
    }

    /// The batches committed so far and the jobs they decided.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.tally.figures()
    }

    /// Queues `job`; gives it back if the workers are gone.
    pub(crate) async fn submit(&self, job: J) -> Result<(), J> {
        self.jobs.send(job).await.map_err(|refused| refused.0)
    }
}

/// The next batch: waits for one job, then takes what else is queued;
/// `None` once the queue is closed.
async fn take<J>(receiver: &Mutex<mpsc::Receiver<J>>, max_batch: usize) -> Option<Vec<J>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max_batch {
        match receiver.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

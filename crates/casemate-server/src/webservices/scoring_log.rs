//! The scoring log: one record per scoring request, durable before the request is answered.
//! One writer appends whatever requests are waiting in one statement and one sync (group
//! commit), so concurrent requests share the cost of the sync.

use crate::error::{Error, Result};
use casemate_store::{ScoringRecord, Store};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 512;
const QUEUE: usize = 4096;

struct Pending {
    record: ScoringRecord,
    written: oneshot::Sender<std::result::Result<(), String>>,
}

#[derive(Debug, Clone)]
pub struct ScoringLog {
    queue: mpsc::Sender<Pending>,
}

impl ScoringLog {
    pub fn start(store: Store) -> Self {
        let (queue, mut receiver) = mpsc::channel::<Pending>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let records: Vec<ScoringRecord> =
                    batch.iter().map(|pending| pending.record.clone()).collect();
                let outcome = store
                    .append_scoring_records(&records)
                    .await
                    .map_err(|e| e.to_string());
                if let Err(error) = &outcome {
                    tracing::error!(%error, records = records.len(), "the scoring log could not be written");
                }
                for pending in batch.drain(..) {
                    let _ = pending.written.send(outcome.clone());
                }
            }
        });
        Self { queue }
    }

    /// Appends one record and waits until it is durable.
    pub async fn record(&self, record: ScoringRecord) -> Result<()> {
        let (written, done) = oneshot::channel();
        self.queue
            .send(Pending { record, written })
            .await
            .map_err(|_| Error::Unavailable("the scoring log writer has stopped".into()))?;
        done.await
            .map_err(|_| Error::Unavailable("the scoring log writer has stopped".into()))?
            .map_err(|error| {
                Error::Unavailable(format!("the scoring log cannot be written: {error}"))
            })
    }
}

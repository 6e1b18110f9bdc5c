//! A bounded pool of buffers shared by one producer and several consumer stages, each on
//! its own thread. The producer fills a buffer with image bytes and hands it to every stage
//! (the file writer, the isomd5sum MD5, the SHA-256); the buffer goes back to the pool when
//! the last stage has dropped it. Memory is the pool and nothing else, however large the
//! image; the producer waits only when every buffer is in flight, so reading sources,
//! writing the image and hashing it overlap.

use std::ops::Deref;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// Image bytes at an offset, shared by the stages; returns its storage to the pool on drop.
pub struct Chunk {
    data: Vec<u8>,
    len: usize,
    recycle: Sender<Vec<u8>>,
}

impl Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data[..self.len]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The pool is gone only when the producer is, and then nobody needs the buffer.
        let _ = self.recycle.send(std::mem::take(&mut self.data));
    }
}

/// What a stage receives: chunks in image order until the producer is done.
pub type Feed = Receiver<Arc<Chunk>>;

/// A stage stopped before the end of the image (its thread reports why when joined).
#[derive(Debug)]
pub struct StageStopped;

/// The producer's end: empty buffers out, full chunks to every stage.
pub struct Pipeline {
    free: Receiver<Vec<u8>>,
    recycle: Sender<Vec<u8>>,
    stages: Vec<SyncSender<Arc<Chunk>>>,
    buffer_size: usize,
    allocated: usize,
    buffers: usize,
}

impl Pipeline {
    /// A pool of at most `buffers` buffers of `buffer_size` bytes, allocated as needed.
    pub fn new(buffers: usize, buffer_size: usize) -> Self {
        let (recycle, free) = mpsc::channel();
        Pipeline {
            free,
            recycle,
            stages: Vec::new(),
            buffer_size,
            allocated: 0,
            buffers: buffers.max(1),
        }
    }

    /// A new stage: the returned feed yields every chunk sent from now on.
    pub fn stage(&mut self) -> Feed {
        let (tx, rx) = mpsc::sync_channel(self.buffers);
        self.stages.push(tx);
        rx
    }

    /// An empty buffer of `buffer_size` bytes, waiting for one to come back when all are
    /// in flight.
    pub fn take(&mut self) -> Result<Vec<u8>, StageStopped> {
        if let Ok(buf) = self.free.try_recv() {
            return Ok(buf);
        }
        if self.allocated < self.buffers {
            self.allocated += 1;
            return Ok(vec![0u8; self.buffer_size]);
        }
        // Every buffer is held by a chunk, and every chunk by a stage's channel or thread:
        // one comes back unless every stage is gone, which `send` has already reported.
        self.free.recv().map_err(|_| StageStopped)
    }

    /// Hands the first `len` bytes of `data` to every stage.
    pub fn send(&mut self, data: Vec<u8>, len: usize) -> Result<(), StageStopped> {
        let chunk = Arc::new(Chunk {
            data,
            len,
            recycle: self.recycle.clone(),
        });
        for stage in &self.stages {
            stage.send(chunk.clone()).map_err(|_| StageStopped)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_sees_every_chunk_in_order_and_memory_stays_bounded() {
        let mut pipe = Pipeline::new(3, 4);
        let feeds = [pipe.stage(), pipe.stage()];
        std::thread::scope(|s| {
            let handles: Vec<_> = feeds
                .into_iter()
                .map(|feed| {
                    s.spawn(move || {
                        let mut seen = Vec::new();
                        for chunk in feed {
                            seen.extend_from_slice(&chunk);
                        }
                        seen
                    })
                })
                .collect();
            for i in 0..100u8 {
                let mut buf = pipe.take().unwrap();
                buf[0] = i;
                pipe.send(buf, 1).unwrap();
            }
            assert!(pipe.allocated <= 3);
            drop(pipe);
            let expected: Vec<u8> = (0..100).collect();
            for h in handles {
                assert_eq!(h.join().unwrap(), expected);
            }
        });
    }

    #[test]
    fn a_stopped_stage_stops_the_producer() {
        let mut pipe = Pipeline::new(2, 4);
        let feed = pipe.stage();
        drop(feed);
        let buf = pipe.take().unwrap();
        assert!(pipe.send(buf, 4).is_err());
    }
}

//! A bounded pool of buffers shared by one producer and several consumer stages, each on
//! its own thread. The producer fills a buffer with image bytes and hands it to every stage
//! (the file writer, the isomd5sum MD5, the SHA-256); the buffer goes back to the pool when
//! the last stage has dropped it. Memory is the pool and nothing else, however large the
//! image; the producer waits only when every buffer is in flight, so reading sources,
//! writing the image and hashing it overlap. Buffers start on a 4 KiB boundary, as
//! `O_DIRECT` writes need.

use std::ops::Deref;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// Alignment of every buffer: the page size, which covers any device's logical block.
pub const ALIGN: usize = 4096;

/// A pool buffer: `size` bytes starting at an `ALIGN`-aligned address inside `storage`.
pub struct Buffer {
    storage: Vec<u8>,
    start: usize,
    size: usize,
}

impl Buffer {
    fn new(size: usize) -> Self {
        let storage = vec![0u8; size + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Buffer {
            storage,
            start,
            size,
        }
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.size]
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.size]
    }
}

/// Image bytes shared by the stages; returns its buffer to the pool on drop.
pub struct Chunk {
    buffer: Option<Buffer>,
    len: usize,
    recycle: Sender<Buffer>,
}

impl Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.buffer {
            Some(b) => &b[..self.len],
            None => &[],
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // The pool is gone only when the producer is, and then nobody needs the buffer.
        if let Some(b) = self.buffer.take() {
            let _ = self.recycle.send(b);
        }
    }
}

/// What a stage receives: chunks in image order until the producer is done.
pub type Feed = Receiver<Arc<Chunk>>;

/// A stage stopped before the end of the image (its thread reports why when joined).
#[derive(Debug)]
pub struct StageStopped;

/// The producer's end: empty buffers out, full chunks to every stage.
pub struct Pipeline {
    free: Receiver<Buffer>,
    recycle: Sender<Buffer>,
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
    pub fn take(&mut self) -> Result<Buffer, StageStopped> {
        if let Ok(buf) = self.free.try_recv() {
            return Ok(buf);
        }
        if self.allocated < self.buffers {
            self.allocated += 1;
            return Ok(Buffer::new(self.buffer_size));
        }
        // Every buffer is held by a chunk, and every chunk by a stage's channel or thread:
        // one comes back unless every stage is gone, which `send` has already reported.
        self.free.recv().map_err(|_| StageStopped)
    }

    /// Hands the first `len` bytes of `data` to every stage.
    pub fn send(&mut self, buffer: Buffer, len: usize) -> Result<(), StageStopped> {
        let chunk = Arc::new(Chunk {
            buffer: Some(buffer),
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
            let buf = pipe.take().unwrap();
            assert_eq!(buf.as_ptr() as usize % ALIGN, 0);
            assert_eq!(buf.len(), 4);
            pipe.send(buf, 0).unwrap();
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

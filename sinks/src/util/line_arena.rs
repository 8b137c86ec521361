//! Encoded lines without an allocation per line.
//!
//! A line-oriented sink keeps every encoded event until its batch is sent, so
//! each line must own its bytes. Giving each line a `Vec` of its own costs a
//! `malloc`, usually a `realloc` once the line outgrows its first guess, and a
//! `free`: with glibc, a request of 1 KiB or more also consolidates the
//! allocator's fast bins first, which profiles of a rendering ruler showed at
//! 5–6 % of the process. A [`LineArena`] instead encodes into a scratch buffer
//! it reuses and copies the result into a shared chunk of [`CHUNK`] bytes,
//! handing out a [`Bytes`] view of it: one allocation per chunk, freed when
//! the last line cut from it is dropped.
//!
//! Each receiver has an arena of its own, so the lines a receiver holds (a
//! batch it retries while its target is down) pin only chunks of its own
//! lines, never those of busier receivers.

use std::sync::Mutex;

use bytes::{Bytes, BytesMut};

/// Size of a fresh chunk; a longer line gets a chunk of its own length.
pub const CHUNK: usize = 64 * 1024;

/// A scratch buffer that grew past this is released after use, so one huge
/// event does not pin its size to the receiver.
const SCRATCH_KEEP: usize = 1024 * 1024;

#[derive(Default)]
struct Buffers {
    scratch: Vec<u8>,
    chunk: BytesMut,
}

/// Where one receiver's encoded lines are cut from.
#[derive(Default)]
pub struct LineArena {
    buffers: Mutex<Buffers>,
}

impl std::fmt::Debug for LineArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineArena").finish_non_exhaustive()
    }
}

impl Clone for LineArena {
    /// A clone starts with empty buffers of its own.
    fn clone(&self) -> LineArena {
        LineArena::default()
    }
}

impl LineArena {
    /// Runs `encode` on an empty buffer and returns what it wrote as
    /// [`Bytes`] cut from the arena's current chunk. An error from `encode`
    /// is returned as is and nothing is kept.
    ///
    /// # Errors
    /// Whatever `encode` returns.
    pub fn encode<E>(
        &self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Bytes, E> {
        // A receiver encodes on one task at a time, so the lock is free; if
        // it is not (two callers at once), the second uses a buffer of its own
        // rather than wait.
        let Ok(mut buffers) = self.buffers.try_lock() else {
            let mut own = Vec::new();
            return encode(&mut own).map(|()| Bytes::from(own));
        };
        let Buffers { scratch, chunk } = &mut *buffers;
        scratch.clear();
        let result = encode(scratch).map(|()| cut(chunk, scratch));
        if scratch.capacity() > SCRATCH_KEEP {
            *scratch = Vec::new();
        }
        result
    }
}

/// Copies `line` to the end of `chunk` (starting a fresh chunk when it does
/// not fit) and splits it off as its own [`Bytes`].
fn cut(chunk: &mut BytesMut, line: &[u8]) -> Bytes {
    if chunk.capacity() - chunk.len() < line.len() {
        *chunk = BytesMut::with_capacity(CHUNK.max(line.len()));
    }
    chunk.extend_from_slice(line);
    chunk.split().freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(arena: &LineArena, n: usize, byte: u8) -> Bytes {
        arena
            .encode(|out: &mut Vec<u8>| {
                out.extend(std::iter::repeat_n(byte, n));
                Ok::<(), ()>(())
            })
            .unwrap()
    }

    #[test]
    fn lines_keep_their_own_bytes_across_chunks() {
        let arena = LineArena::default();
        // enough lines to fill several chunks, each checked after all were cut
        let lines: Vec<(usize, u8, Bytes)> = (0..2_000)
            .map(|i| {
                let n = (i * 37) % 700 + 1;
                let b = u8::try_from(i % 251).unwrap();
                (n, b, line(&arena, n, b))
            })
            .collect();
        for (n, b, bytes) in &lines {
            assert_eq!(bytes.len(), *n);
            assert!(bytes.iter().all(|x| x == b));
        }
    }

    #[test]
    fn consecutive_lines_share_a_chunk_and_arenas_do_not() {
        let (one, two) = (LineArena::default(), LineArena::default());
        let a = line(&one, 10, 1);
        let b = line(&two, 10, 2);
        let c = line(&one, 10, 3);
        // the second line of `one` starts where its first ends
        assert_eq!(a.as_ptr().wrapping_add(10), c.as_ptr());
        assert_ne!(a.as_ptr().wrapping_add(10), b.as_ptr());
        assert_eq!((a[0], b[0], c[0]), (1, 2, 3));
        // a clone cuts from chunks of its own
        let d = line(&one.clone(), 10, 4);
        assert_ne!(c.as_ptr().wrapping_add(10), d.as_ptr());
    }

    #[test]
    fn a_line_longer_than_a_chunk_gets_one_of_its_own() {
        let arena = LineArena::default();
        let big = line(&arena, CHUNK * 3 + 5, 7);
        assert_eq!(big.len(), CHUNK * 3 + 5);
        assert!(big.iter().all(|x| *x == 7));
        assert_eq!(line(&arena, 3, 8).as_ref(), [8, 8, 8]);
    }

    #[test]
    fn an_error_keeps_nothing_and_the_next_line_is_clean() {
        let arena = LineArena::default();
        let err: Result<Bytes, &str> = arena.encode(|out| {
            out.extend_from_slice(b"partial");
            Err("layout failed")
        });
        assert_eq!(err, Err("layout failed"));
        assert_eq!(line(&arena, 2, b'x').as_ref(), b"xx");
    }

    #[test]
    fn encoding_while_encoding_falls_back_to_a_buffer_of_its_own() {
        let arena = LineArena::default();
        let outer = arena
            .encode(|out: &mut Vec<u8>| {
                let inner = line(&arena, 4, b'i');
                out.extend_from_slice(b"o:");
                out.extend_from_slice(&inner);
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(outer.as_ref(), b"o:iiii");
    }
}

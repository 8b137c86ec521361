//! A small argument buffer: most template calls pass at most four arguments,
//! which then live on the stack instead of in a fresh `Vec` per call.

const INLINE: usize = 4;

/// Up to four values inline, more on the heap.
pub(crate) enum ArgBuf<T> {
    Inline([T; INLINE], usize),
    Heap(Vec<T>),
}

impl<T: Default> ArgBuf<T> {
    pub(crate) fn with_capacity(n: usize) -> ArgBuf<T> {
        if n <= INLINE {
            ArgBuf::Inline(Default::default(), 0)
        } else {
            ArgBuf::Heap(Vec::with_capacity(n))
        }
    }

    pub(crate) fn push(&mut self, v: T) {
        match self {
            ArgBuf::Inline(items, len) if *len < INLINE => {
                items[*len] = v;
                *len += 1;
            }
            ArgBuf::Inline(items, len) => {
                let mut heap: Vec<T> = items[..*len].iter_mut().map(std::mem::take).collect();
                heap.push(v);
                *self = ArgBuf::Heap(heap);
            }
            ArgBuf::Heap(items) => items.push(v),
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            ArgBuf::Inline(items, len) => &items[..*len],
            ArgBuf::Heap(items) => items,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            ArgBuf::Inline(items, len) => &mut items[..*len],
            ArgBuf::Heap(items) => items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_the_heap_after_four() {
        let mut b: ArgBuf<u32> = ArgBuf::with_capacity(2);
        for i in 0..6 {
            b.push(i);
        }
        assert_eq!(b.as_slice(), &[0, 1, 2, 3, 4, 5]);
        assert!(matches!(b, ArgBuf::Heap(_)));
        let mut small: ArgBuf<u32> = ArgBuf::with_capacity(3);
        small.push(7);
        small.as_mut_slice()[0] = 8;
        assert_eq!(small.as_slice(), &[8]);
    }
}
